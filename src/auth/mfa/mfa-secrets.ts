import { ForbiddenException, Logger } from '@nestjs/common';
import { AuthUnavailableException } from '../common/exceptions.js';
import { KeyDecryptionError, KeyEncryption, MIN_KEY_ENCRYPTION_SECRET_BYTES } from '../keys/key-encryption.js';

const logger = new Logger('MfaSecrets');

/** Injection token of the module's MfaSecrets. */
export const MFA_SECRETS = Symbol('MFA_SECRETS');

/** Said when the module has no keyEncryptionSecret: nothing could keep a TOTP secret safe. */
export const MFA_UNAVAILABLE = 'Two-factor authentication needs the server to be configured with keyEncryptionSecret';

/** Associated data beside the user's id: what the ciphertext is. */
const TOTP = 'totp';

/**
 * TOTP secrets at rest: AES-256-GCM under a key derived from `keyEncryptionSecret` for this
 * purpose alone, the user's id as associated data (a secret copied to another user's row does
 * not decrypt). `keys reencrypt` re-encrypts them with the signing keys. Without the secret,
 * every use answers 403 with MFA_UNAVAILABLE.
 */
export class MfaSecrets {
  private constructor(private readonly encryption: KeyEncryption | null) {}

  static from(keyEncryptionSecret: string | Buffer | undefined): MfaSecrets {
    if (keyEncryptionSecret === undefined) return new MfaSecrets(null);
    const bytes =
      typeof keyEncryptionSecret === 'string' ? Buffer.from(keyEncryptionSecret, 'utf8') : keyEncryptionSecret;
    if (bytes.length < MIN_KEY_ENCRYPTION_SECRET_BYTES) return new MfaSecrets(null);
    return new MfaSecrets(new KeyEncryption(bytes, 'totp-secret encryption'));
  }

  encryptTotpSecret(userId: string, secret: string): string {
    return this.require().encrypt(Buffer.from(secret, 'utf8'), userId, TOTP);
  }

  /**
   * The secret in clear. A ciphertext that does not open (another keyEncryptionSecret without
   * `keys reencrypt`, a damaged or moved row) is the server's fault, not the user's: 503, fail
   * closed (no code is accepted), and the reason logged, never the secret.
   */
  decryptTotpSecret(userId: string, stored: string): string {
    try {
      return this.require().decrypt(stored, userId, TOTP).toString('utf8');
    } catch (error) {
      if (!(error instanceof KeyDecryptionError)) throw error;
      logger.error(
        `The authenticator-app secret of user ${userId} does not decrypt with this keyEncryptionSecret (changed without keys reencrypt?)`,
      );
      throw new AuthUnavailableException();
    }
  }

  /** decryptTotpSecret without the 503: KeyDecryptionError as it is (keys reencrypt reports it). */
  openTotpSecret(userId: string, stored: string): string {
    return this.require().decrypt(stored, userId, TOTP).toString('utf8');
  }

  private require(): KeyEncryption {
    if (!this.encryption) throw new ForbiddenException(MFA_UNAVAILABLE);
    return this.encryption;
  }
}
