import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import { SigningKeyRepository } from './signing-key.repository.js';
import { AUTH_KEY_SETTINGS, type KeySettings, type KeyTimeline, SigningKeys } from './signing-keys.service.js';
import { generateKey, type SigningAlgorithm } from './signing-key.js';

/** Injection token of the seconds between a key's creation and its first signature. */
export const AUTH_KEY_ACTIVATION_DELAY = Symbol('AUTH_KEY_ACTIVATION_DELAY');

/** A rotation while another new key still waits to sign: refused, the first one must take over first. */
export class KeyRotationPendingError extends Error {}

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
  ) {}

  /** Adds a key (default: the configured algorithm) that starts signing after the activation delay. */
  async rotate(algorithm: SigningAlgorithm = this.settings.algorithm): Promise<RotatedKey> {
    const encryption = this.settings.encryption;
    if (!encryption) throw new Error('Rotation stores a private key: the key-encryption secret is required');
    // A key-encryption secret that does not open the keys there would add one no other instance can use.
    this.keys.assertAllUsable();
    const rotated = await this.repository.change(async (rows, manager) => {
      const now = this.clock.now().getTime();
      const waiting = rows.find((row) => row.activatesAt.getTime() > now);
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

  /** Deletes the keys no live token can have been signed with; returns their ids. */
  async retire(): Promise<string[]> {
    const retired = await this.repository.change(async (rows, manager) => {
      const expired = this.keys
        .timeline(rows)
        .filter((entry) => entry.state === 'expired' && !entry.fromSecretOption)
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
