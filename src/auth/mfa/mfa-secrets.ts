import { createHmac, hkdfSync } from 'node:crypto';
import { ForbiddenException } from '@nestjs/common';
import { KeyEncryption, MIN_KEY_ENCRYPTION_SECRET_BYTES } from '../keys/key-encryption.js';

/** Injection token of the module's MfaSecrets. */
export const MFA_SECRETS = Symbol('MFA_SECRETS');

/** Said when the module has no keyEncryptionSecret: nothing could keep a TOTP secret safe. */
export const MFA_UNAVAILABLE = 'Two-factor authentication needs the server to be configured with keyEncryptionSecret';

/**
 * The second factor's secrets at rest, from `keyEncryptionSecret` through keys derived for these
 * purposes alone: TOTP secrets encrypted (AES-256-GCM, the user's id as associated data, so that
 * a secret copied to another user's row does not decrypt), recovery codes as HMAC-SHA-256 of the
 * user's id and the code (a copy of the table without the secret tells nothing about the codes).
 * Without the secret, every use answers 403 with MFA_UNAVAILABLE.
 */
export class MfaSecrets {
  private constructor(
    private readonly encryption: KeyEncryption | null,
    private readonly recoveryKey: Buffer | null,
  ) {}

  static from(keyEncryptionSecret: string | Buffer | undefined): MfaSecrets {
    if (keyEncryptionSecret === undefined) return new MfaSecrets(null, null);
    const bytes =
      typeof keyEncryptionSecret === 'string' ? Buffer.from(keyEncryptionSecret, 'utf8') : keyEncryptionSecret;
    if (bytes.length < MIN_KEY_ENCRYPTION_SECRET_BYTES) return new MfaSecrets(null, null);
    const recoveryKey = Buffer.from(
      hkdfSync('sha256', bytes, Buffer.alloc(0), 'nest-jwt-revocation recovery-code hashing v1', 32),
    );
    return new MfaSecrets(new KeyEncryption(bytes, 'totp-secret encryption'), recoveryKey);
  }

  get available(): boolean {
    return this.encryption !== null;
  }

  encryptTotpSecret(userId: string, secret: string): string {
    return this.require().encrypt(Buffer.from(secret, 'utf8'), userId, 'totp');
  }

  /** Throws KeyDecryptionError for another secret's or another user's ciphertext. */
  decryptTotpSecret(userId: string, stored: string): string {
    return this.require().decrypt(stored, userId, 'totp').toString('utf8');
  }

  /** Hex HMAC of a normalised recovery code (normalisedRecoveryCode) for this user. */
  recoveryCodeHash(userId: string, normalisedCode: string): string {
    if (!this.recoveryKey) throw new ForbiddenException(MFA_UNAVAILABLE);
    return createHmac('sha256', this.recoveryKey).update(`${userId}\n${normalisedCode}`, 'utf8').digest('hex');
  }

  private require(): KeyEncryption {
    if (!this.encryption) throw new ForbiddenException(MFA_UNAVAILABLE);
    return this.encryption;
  }
}
