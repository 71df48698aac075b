import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import { SigningKeyRepository } from './signing-key.repository.js';
import {
  AUTH_KEY_SETTINGS,
  type KeySettings,
  type KeyTimeline,
  KeyUnusableError,
  SigningKeys,
} from './signing-keys.service.js';
import { generateKey, isSigningAlgorithm, type SigningAlgorithm } from './signing-key.js';
import { KeyEncryption } from './key-encryption.js';
import { MfaRepository } from '../mfa/mfa.repository.js';
import { MFA_SECRETS, MfaSecrets } from '../mfa/mfa-secrets.js';

/** Injection token of the seconds between a key's creation and its first signature. */
export const AUTH_KEY_ACTIVATION_DELAY = Symbol('AUTH_KEY_ACTIVATION_DELAY');

/** A rotation while another new key still waits to sign: refused, the first one must take over first. */
export class KeyRotationPendingError extends Error {}

/** A key that cannot be revoked as asked: no such key, or the `secret` option's. */
export class KeyRevocationError extends Error {}

export interface RevokedKey {
  kid: string;
  revokedAt: Date;
  /** False when it had been revoked before (nothing changed). */
  changed: boolean;
  /** The key made current in its place, when the revoked key was the one signing. */
  replacement: RotatedKey | null;
}

export interface RotatedKey {
  kid: string;
  algorithm: SigningAlgorithm;
  /** When it starts signing: every instance (and every JWKS cache) has it by then. */
  activatesAt: Date;
}

/**
 * Rotation and retirement of signing keys (the `keys` commands of the CLI). A new key is published
 * first (every instance reloads the keys when the change commits, and JWKS lists it) and signs
 * only from `activatesAt`, after the activation delay; the keys it replaces keep verifying until
 * the last token they signed has expired, then retirement deletes them.
 */
@Injectable()
export class KeyRotationService {
  private readonly logger = new Logger(KeyRotationService.name);

  constructor(
    private readonly repository: SigningKeyRepository,
    private readonly keys: SigningKeys,
    @Inject(AUTH_KEY_SETTINGS) private readonly settings: KeySettings,
    @Inject(AUTH_KEY_ACTIVATION_DELAY) private readonly activationDelaySeconds: number,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    private readonly mfa: MfaRepository,
    @Inject(MFA_SECRETS) private readonly mfaSecrets: MfaSecrets,
  ) {}

  /** Adds a key (default: the configured algorithm) that starts signing after the activation delay. */
  async rotate(algorithm: SigningAlgorithm = this.settings.algorithm): Promise<RotatedKey> {
    const encryption = this.settings.encryption;
    if (!encryption) throw new Error('Rotation stores a private key: the key-encryption secret is required');
    // A key-encryption secret that does not open the keys there would add one no other instance can use.
    this.keys.assertAllUsable();
    const rotated = await this.repository.change(async (rows, manager) => {
      const now = this.clock.now().getTime();
      const waiting = rows.find((row) => row.activatesAt.getTime() > now && !row.revokedAt);
      if (waiting) {
        throw new KeyRotationPendingError(
          `Key ${waiting.kid} is already waiting to sign from ${waiting.activatesAt.toISOString()}; rotate again after that`,
        );
      }
      const generated = generateKey(algorithm);
      const activatesAt = new Date(now + this.activationDelaySeconds * 1000);
      await this.repository.insert(manager, {
        kid: generated.kid,
        algorithm,
        publicKey: generated.publicKeyPem,
        privateKeyEncrypted: encryption.encrypt(generated.secretMaterial, generated.kid, algorithm),
        activatesAt,
      });
      return { kid: generated.kid, algorithm, activatesAt };
    });
    this.logger.log(
      `Signing key ${rotated.kid} (${algorithm}) published; it signs from ${rotated.activatesAt.toISOString()}`,
    );
    await this.keys.reload();
    return rotated;
  }

  /**
   * Revokes a key at once, everywhere: from the commit on, no instance verifies a token it signed
   * (access or refresh, and the tokens an instance has already verified too), JWKS no longer
   * lists it, and it never signs again. When it is the key that signs now, a new key of the same
   * algorithm (unless told otherwise) becomes current in the same transaction, so that tokens go
   * on being issued; that needs the key-encryption secret, and every other key readable with it.
   * Revoking a key revoked before changes nothing.
   */
  async revoke(kid: string, algorithm?: SigningAlgorithm): Promise<RevokedKey> {
    if (kid === this.settings.secretKey?.kid) {
      throw new KeyRevocationError(
        `Key ${kid} is the secret option's (JWT_SECRET), not a stored key: replace the secret on every instance instead`,
      );
    }
    const result = await this.repository.change(async (rows, manager): Promise<RevokedKey> => {
      const row = rows.find((candidate) => candidate.kid === kid);
      if (!row) throw new KeyRevocationError(`No signing key ${kid}`);
      if (row.revokedAt) return { kid, revokedAt: row.revokedAt, changed: false, replacement: null };
      const revokedAt = this.clock.now();
      const signsNow = this.keys.timeline(rows).find((entry) => entry.kid === kid)?.state === 'current';
      let replacement: RotatedKey | null = null;
      if (signsNow) {
        const encryption = this.settings.encryption;
        if (!encryption) {
          throw new KeyRevocationError(
            `Key ${kid} signs now: revoking it makes a new key current, which needs the key-encryption secret (KEY_ENCRYPTION_SECRET)`,
          );
        }
        this.keys.assertAllUsable(kid);
        const chosen = algorithm ?? (isSigningAlgorithm(row.algorithm) ? row.algorithm : this.settings.algorithm);
        const generated = generateKey(chosen);
        const activatesAt = this.keys.replacementActivation(row);
        await this.repository.insert(manager, {
          kid: generated.kid,
          algorithm: chosen,
          publicKey: generated.publicKeyPem,
          privateKeyEncrypted: encryption.encrypt(generated.secretMaterial, generated.kid, chosen),
          activatesAt,
        });
        replacement = { kid: generated.kid, algorithm: chosen, activatesAt };
      }
      await this.repository.revoke(manager, kid, revokedAt);
      return { kid, revokedAt, changed: true, replacement };
    });
    if (result.changed) {
      this.logger.log(
        `Signing key ${kid} revoked` + (result.replacement ? `; key ${result.replacement.kid} signs in its place` : ''),
      );
    }
    await this.keys.reload();
    return result;
  }

  /**
   * Re-encrypts every stored private key under a new key-encryption secret, in one transaction:
   * each must decrypt with the current secret first (the settings'), or nothing changes. Running
   * instances keep the keys they hold; each must restart with the new secret (one that reads the
   * keys again before that finds them unreadable: it then refuses to sign, never signs wrongly).
   * Returns the ids of the keys re-encrypted. The authenticator apps' secrets (encrypted under a
   * key derived from the same secret) are re-encrypted in the same transaction: see
   * reencryptAll() for both counts.
   */
  async reencrypt(newSecret: string | Buffer): Promise<string[]> {
    return (await this.reencryptAll(newSecret)).keys;
  }

  /** reencrypt(), answering the keys re-encrypted and how many TOTP secrets were. */
  async reencryptAll(newSecret: string | Buffer): Promise<{ keys: string[]; totpSecrets: number }> {
    const current = this.settings.encryption;
    if (!current) throw new Error('Re-encryption reads the keys: the current key-encryption secret is required');
    const next = new KeyEncryption(newSecret);
    const nextMfa = MfaSecrets.from(newSecret);
    const result = await this.repository.change(async (rows, manager) => {
      const stored = await this.repository.encryptedKeys(manager);
      const replaced = new Map<string, string>();
      for (const row of rows) {
        let material: Buffer;
        try {
          material = current.decrypt(stored.get(row.kid) ?? '', row.kid, row.algorithm);
        } catch (error) {
          throw new KeyUnusableError(`${(error as Error).message}; nothing was re-encrypted`);
        }
        const sealed = next.encrypt(material, row.kid, row.algorithm);
        // Read back before anything is written: what is stored must open with the new secret.
        if (!next.decrypt(sealed, row.kid, row.algorithm).equals(material)) {
          throw new Error(`Key ${row.kid}: re-encryption did not round-trip; nothing was re-encrypted`);
        }
        material.fill(0);
        replaced.set(row.kid, sealed);
      }
      await this.repository.replaceEncrypted(manager, replaced);
      const totpSecrets = await this.mfa.resealTotpSecrets(manager, (userId, sealed) => {
        let secret: string;
        try {
          secret = this.mfaSecrets.openTotpSecret(userId, sealed);
        } catch (error) {
          throw new KeyUnusableError(
            `The authenticator-app secret of user ${userId} does not decrypt with the current key-encryption secret (${(error as Error).message}); nothing was re-encrypted`,
          );
        }
        return nextMfa.encryptTotpSecret(userId, secret);
      });
      return { keys: [...replaced.keys()], totpSecrets };
    });
    this.logger.log(
      `Re-encrypted ${result.keys.length} signing key(s) and ${result.totpSecrets} authenticator-app secret(s) under the new key-encryption secret`,
    );
    return result;
  }

  /** Deletes the keys no live token can have been signed with; returns their ids. */
  async retire(): Promise<string[]> {
    const windowMs = this.settings.verifyWindowSeconds * 1000;
    const now = this.clock.now().getTime();
    const retired = await this.repository.change(async (rows, manager) => {
      const expired = this.keys
        .timeline(rows)
        .filter(
          (entry) =>
            !entry.fromSecretOption &&
            (entry.state === 'expired' ||
              // A revoked key is kept (and listed) until no token it signed could still be live.
              (entry.state === 'revoked' && (entry.revokedAt?.getTime() ?? now) + windowMs <= now)),
        )
        .map((entry) => entry.kid);
      await this.repository.delete(manager, expired);
      return expired;
    });
    if (retired.length > 0) this.logger.log(`Retired signing key(s) ${retired.join(', ')}`);
    await this.keys.reload();
    return retired;
  }

  /** Every key with its state and dates. */
  async list(): Promise<KeyTimeline[]> {
    return this.keys.timeline(await this.repository.loadAll(false));
  }
}
