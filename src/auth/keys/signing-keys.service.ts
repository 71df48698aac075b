import type { JsonWebKey } from 'node:crypto';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit, Optional } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import { SigningKeyRepository, type StoredSigningKey } from './signing-key.repository.js';
import type { CompactJws } from './jws.js';
import { AUTH_KEY_SOURCE, type KeySource } from './jwks-key-source.js';
import { type KeyEncryption } from './key-encryption.js';
import { isDatabaseUnavailable } from '../common/database-errors.js';
import {
  generateKey,
  isAsymmetric,
  isSigningAlgorithm,
  keyFromStorage,
  type SigningAlgorithm,
  type SigningKey,
  thumbprint,
} from './signing-key.js';

/** The key that should sign, or a stored key, cannot be used on this instance. */
export class KeyUnusableError extends Error {}

/** Injection token of what SigningKeys is built from (see AuthModule and the verify-only module). */
export const AUTH_KEY_SETTINGS = Symbol('AUTH_KEY_SETTINGS');

export interface KeySettings {
  /**
   * `issuer`: signs, so reads private keys (decrypted with `encryption`); `verifier`: public keys
   * only; `operator` (the CLI): reads what `issuer` reads when it has `encryption`, public keys
   * otherwise, and never creates a key nor asks for one that signs.
   */
  mode: 'issuer' | 'verifier' | 'operator';
  /** The algorithm of a key created when there is none (issuer). */
  algorithm: SigningAlgorithm;
  /** The key of the `secret` option (HMAC), if one is configured. */
  secretKey?: SigningKey;
  /** Decrypts private keys; required by an issuer as soon as signing_keys holds a key. */
  encryption?: KeyEncryption;
  /**
   * Longest life (seconds) of a token this instance verifies, plus the clock tolerance: how long a
   * key stays valid after a newer key took over signing.
   */
  verifyWindowSeconds: number;
}

/** Where a key is in its life, at a given instant. */
export type KeyState = 'next' | 'current' | 'previous' | 'expired' | 'revoked';

export interface KeyTimeline {
  kid: string;
  algorithm: string;
  createdAt: Date | null;
  activatesAt: Date | null;
  /** When the last token it may have signed expires; null while it signs (or will), and once revoked. */
  verifyUntil: Date | null;
  /** When it was revoked (`keys revoke`): from then on it neither signs nor verifies. */
  revokedAt: Date | null;
  state: KeyState;
  /** Configured by the `secret` option, not stored in signing_keys. */
  fromSecretOption: boolean;
}

interface Loaded {
  byKid: Map<string, SigningKey>;
  /**
   * Every key in the order it takes over signing (the secret option's first), with the usable
   * key, or undefined for a row that could not be read here (logged): then nothing signs rather
   * than an older key.
   */
  schedule: Array<{ kid: string; activatesAt: number; key: SigningKey | undefined; revoked?: true }>;
  /** kid → end of validity (ms); absent: no newer key yet. */
  verifyUntil: Map<string, number>;
  /** Rows that could not be used here, with the reason. */
  unusable: Map<string, string>;
}

/**
 * Least time (ms) between two reloads asked for by tokens with an unknown key id, whatever the
 * tokens say: a query of a tiny table, or a request to the auth server's JWKS.
 */
const UNKNOWN_KID_RELOAD_INTERVAL_MS = { table: 1_000, source: 10_000 };
/** How long after a change notification a JWKS is read a second time. */
const JWKS_SETTLE_MS = 2_000;
/**
 * While the listener is not live (a notification may have been missed), how old the list of
 * revoked keys may be when a token is checked: it is read again, at most this often.
 */
export const KEYS_MAX_AGE_UNLIVE_MS = 1_000;
/** Allowance for the clocks of the machines: a key made current by a revocation signs at once on every one. */
const REPLACEMENT_SKEW_MS = 60_000;

/**
 * The keys this instance signs and verifies with, kept in memory: loaded at start and whenever
 * signing_keys changes (SigningKeysSubscriber hears the change through the NotificationListener,
 * on the channel revocations use, so keys travel exactly like revocations, with the same
 * fail-closed reconnection).
 *
 * A token's `kid` chooses the key and the key pins the algorithm. A token without a `kid` (signed
 * before keys had ids) can only be checked with the `secret` option's key.
 */
@Injectable()
export class SigningKeys implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(SigningKeys.name);
  private loaded: Loaded;
  private loadCount = 0;
  private reloading: Promise<void> | null = null;
  /**
   * A read asked for while one runs: it starts when that one ends, since that one's snapshot may
   * predate the change it was asked for.
   */
  private reloadAgain: Promise<void> | null = null;
  private lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  /**
   * Ids of the revoked keys (signing_keys.revoked_at): refused whatever else says otherwise (a
   * JWKS read before the revocation reached the auth server). Read with the table, or on their own
   * where the keys come from a JWKS; `revokedReadAt` (performance.now()) is when the last
   * successful read started.
   */
  private revoked: ReadonlySet<string> = new Set();
  private revokedReadAt = Number.NEGATIVE_INFINITY;
  private revokedReading: Promise<void> | null = null;
  private revokedReadAgain: Promise<void> | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly repository: SigningKeyRepository,
    @Inject(AUTH_KEY_SETTINGS) private readonly settings: KeySettings,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    /** Another source of public keys than signing_keys (a verifier reading the JWKS URL). */
    @Optional() @Inject(AUTH_KEY_SOURCE) private readonly source?: KeySource,
  ) {
    this.loaded = this.build([]);
  }

  /**
   * Before anything signs: an issuer with no key of its configured kind creates the first one,
   * and refuses to start when the key that signs now cannot be used here (another key-encryption
   * secret, a damaged row).
   */
  async onModuleInit(): Promise<void> {
    if (this.settings.mode === 'issuer') await this.ensureFirstKey();
    await this.reload();
    if (this.settings.mode === 'issuer') this.signingKey();
    if (this.source) this.scheduleSourceRefresh();
  }

  onModuleDestroy(): void {
    for (const timer of [this.refreshTimer, this.settleTimer]) if (timer) clearTimeout(timer);
    this.refreshTimer = null;
    this.settleTimer = null;
  }

  /**
   * True when these keys are complete while the revocation listener is live (signing_keys,
   * whose every change is notified). A JWKS is read by another route than the notification, so an
   * unknown kid is worth one more read.
   */
  get authoritative(): boolean {
    return this.source === undefined;
  }

  /** An issuer needs its private keys; the operator CLI reads them when it was given the secret. */
  private get readsPrivateKeys(): boolean {
    return this.settings.mode === 'issuer' || (this.settings.mode === 'operator' && !!this.settings.encryption);
  }

  /** Times the keys were loaded. */
  get loads(): number {
    return this.loadCount;
  }

  /**
   * Reads the keys again. Callers while a read runs share the next read, which starts when that
   * one ends: a change is never answered by a snapshot taken before it.
   */
  reload(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain ??= this.reloading
        .catch(() => undefined)
        .then(() => {
          this.reloadAgain = null;
          return this.reload();
        });
      return this.reloadAgain;
    }
    this.reloading = this.read()
      .catch((error: unknown) => {
        // What this instance holds may be stale now: the next token checked while the listener is
        // not live reads again (assertRevocationsCurrent), whatever the age of the last read.
        this.revokedReadAt = Number.NEGATIVE_INFINITY;
        throw error;
      })
      .finally(() => {
        this.reloading = null;
      });
    return this.reloading;
  }

  /**
   * signing_keys changed (the notification): read the keys again. A JWKS is read once, a little
   * later, however many notifications arrive (any role may send one): the auth server that serves
   * it may not have reloaded its own keys yet when this instance hears of the change, and a
   * failed read keeps the keys this instance has. The revoked keys are read from the database at
   * once, though: a revocation takes effect here without waiting for the JWKS (a failed read
   * rejects, and the subscriber falls back).
   */
  keysChanged(): Promise<void> {
    if (!this.source) return this.reload();
    const revocations = this.readRevoked();
    if (!this.settleTimer) {
      this.settleTimer = setTimeout(() => {
        this.settleTimer = null;
        this.reload().catch((error: Error) => this.logger.warn(`Could not read the JWKS again: ${error.message}`));
      }, JWKS_SETTLE_MS);
      this.settleTimer.unref();
    }
    return revocations;
  }

  /**
   * After the revocation listener (re)connects. The table is read as part of going live again; a
   * JWKS is the auth server's, and its being unreachable must not keep this instance off live
   * revocation state: the keys it has stay, but the revoked keys must be read (from the database).
   */
  async reloadAfterReconnect(): Promise<void> {
    if (!this.source) return this.reload();
    await this.readRevoked();
    await this.reload().catch((error: Error) => this.logger.warn(`Could not read the JWKS again: ${error.message}`));
  }

  /**
   * The key that signs now: the latest activated one. When that one cannot be used on this
   * instance (logged when it was read), nothing signs: 503 rather than a token from an older key.
   */
  signingKey(): SigningKey {
    const now = this.clock.now().getTime();
    const { schedule, unusable } = this.loaded;
    for (let index = schedule.length - 1; index >= 0; index -= 1) {
      const { kid, activatesAt, key, revoked } = schedule[index];
      if (activatesAt > now) continue;
      // Never an older key instead: revoking the key that signs makes a new one current with it.
      if (revoked) throw new KeyUnusableError(`Key ${kid} signs now but was revoked: rotate to a new key`);
      if (key?.canSign) return key;
      throw new KeyUnusableError(
        `Key ${kid} signs now but cannot sign on this instance: ${unusable.get(kid) ?? 'no private key'}`,
      );
    }
    throw new KeyUnusableError('No signing key is active: configure a secret, or create a key (keys rotate)');
  }

  /**
   * Throws when a key in signing_keys (other than `except`) could not be read here: a new key
   * encrypted with this instance's key-encryption secret would add to the problem.
   */
  assertAllUsable(except?: string): void {
    const first = [...this.loaded.unusable].find(([kid]) => kid !== except);
    if (first) throw new KeyUnusableError(`Key ${first[0]} cannot be used on this instance: ${first[1]}`);
  }

  /**
   * The key that may verify this token now, or undefined: the `kid` must be known, not revoked and
   * still valid, and the header's `alg` must be the key's own.
   */
  keyFor(jws: CompactJws): SigningKey | undefined {
    const { byKid, verifyUntil } = this.loaded;
    const key = jws.kid === undefined ? this.settings.secretKey : byKid.get(jws.kid);
    if (!key || key.algorithm !== jws.alg || this.revoked.has(key.kid)) return undefined;
    const until = verifyUntil.get(key.kid);
    if (until !== undefined && until <= this.clock.now().getTime()) return undefined;
    return key;
  }

  /** True when the kid names a key loaded here, whatever its state (a revoked one too: refused without a reload). */
  knows(kid: string): boolean {
    return this.loaded.byKid.has(kid) || this.revoked.has(kid);
  }

  /**
   * Whether a token that key `kid` verified earlier may still be taken on its word (the guard's
   * cache of verified tokens): the key is still here and not revoked. Two lookups, every request.
   */
  stillVerifies(kid: string): boolean {
    return this.loaded.byKid.has(kid) && !this.revoked.has(kid);
  }

  /** True when the key `kid` is revoked, as far as this instance knows. */
  isRevoked(kid: string): boolean {
    return this.revoked.has(kid);
  }

  /** The read of the keys under way (or the one that follows it), if any: a token may wait for it. */
  pendingReload(): Promise<void> | null {
    return this.reloadAgain ?? this.reloading;
  }

  /**
   * While a notification may have been missed (the listener is not live): makes sure the revoked
   * keys were read at most `maxAgeMs` ago, reading them again (with the table's keys, or alone
   * where the keys come from a JWKS) if not. The read is shared by every request meanwhile, so
   * it costs at most one query per `maxAgeMs`; it throws when the database cannot be read.
   */
  async assertRevocationsCurrent(maxAgeMs = KEYS_MAX_AGE_UNLIVE_MS): Promise<void> {
    if (performance.now() - this.revokedReadAt <= maxAgeMs) return;
    if (this.source) return this.readRevoked();
    await (this.pendingReload() ?? this.reload());
    if (performance.now() - this.revokedReadAt > maxAgeMs) await this.reload();
  }

  /**
   * For a token whose kid is unknown while this instance may have missed a change (its listener
   * is not live): reads the keys again, at most once a second whatever the tokens say. Resolves
   * true when the keys were read (the caller looks again), false when a read was too recent.
   */
  async reloadForUnknownKid(): Promise<boolean> {
    const now = performance.now();
    const interval = this.source ? UNKNOWN_KID_RELOAD_INTERVAL_MS.source : UNKNOWN_KID_RELOAD_INTERVAL_MS.table;
    if (!this.reloading && now - this.lastUnknownKidReload < interval) return false;
    if (!this.reloading) this.lastUnknownKidReload = now;
    try {
      await (this.reloading ?? this.reload());
      return true;
    } catch (error) {
      // An unreachable database is 503 (the guard and the filter say so); a JWKS that cannot be
      // read leaves the kid unknown: refused.
      if (isDatabaseUnavailable(error)) throw error;
      this.logger.warn(`Could not read the keys again for an unknown key id: ${(error as Error).message}`);
      return false;
    }
  }

  /** Public keys that may verify a live token (RFC 7517 set): never a secret, never a private key. */
  jwks(): { keys: JsonWebKey[] } {
    const now = this.clock.now().getTime();
    const keys: JsonWebKey[] = [];
    for (const key of this.loaded.byKid.values()) {
      const until = this.loaded.verifyUntil.get(key.kid);
      if ((until !== undefined && until <= now) || this.revoked.has(key.kid)) continue;
      const jwk = key.publicJwk();
      if (jwk) keys.push(jwk);
    }
    return { keys };
  }

  /** Each key's place in time, as `keys list` shows it (the secret option's key first, if any). */
  timeline(rows: StoredSigningKey[]): KeyTimeline[] {
    const now = this.clock.now().getTime();
    const windowMs = this.settings.verifyWindowSeconds * 1000;
    const entries: Array<{
      kid: string;
      algorithm: string;
      createdAt: Date | null;
      activatesAt: number;
      revokedAt: number | null;
      secret: boolean;
    }> = [
      ...(this.settings.secretKey
        ? [
            {
              kid: this.settings.secretKey.kid,
              algorithm: this.settings.secretKey.algorithm,
              createdAt: null,
              activatesAt: Number.NEGATIVE_INFINITY,
              revokedAt: null,
              secret: true,
            },
          ]
        : []),
      ...rows.map((row) => ({
        kid: row.kid,
        algorithm: row.algorithm,
        createdAt: row.createdAt,
        activatesAt: row.activatesAt.getTime(),
        revokedAt: row.revokedAt ? row.revokedAt.getTime() : null,
        secret: false,
      })),
    ];
    // The keys that took (or will take) over signing: a key revoked before its activation never did.
    const signers = entries.filter((entry) => entry.revokedAt === null || entry.revokedAt >= entry.activatesAt);
    const current = signers.findLast((entry) => entry.activatesAt <= now);
    return entries.map((entry) => {
      const index = signers.indexOf(entry);
      const successor =
        index < 0
          ? undefined
          : (signers.slice(index + 1).find((later) => later.activatesAt > entry.activatesAt) ?? signers[index + 1]);
      let verifyUntil = successor ? Math.max(successor.activatesAt, entry.activatesAt) + windowMs : null;
      let state: KeyState;
      if (entry.revokedAt !== null) {
        state = 'revoked';
        verifyUntil = null;
      } else if (entry.activatesAt > now) state = 'next';
      else if (entry === current) state = 'current';
      else state = verifyUntil !== null && verifyUntil <= now ? 'expired' : 'previous';
      return {
        kid: entry.kid,
        algorithm: entry.algorithm,
        createdAt: entry.createdAt,
        activatesAt: Number.isFinite(entry.activatesAt) ? new Date(entry.activatesAt) : null,
        verifyUntil: verifyUntil === null ? null : new Date(verifyUntil),
        revokedAt: entry.revokedAt === null ? null : new Date(entry.revokedAt),
        state,
        fromSecretOption: entry.secret,
      };
    });
  }

  /**
   * When a key revoked now may be replaced: the instant a new key may start signing, at once on
   * every machine whatever their clocks (a minute back), and never before the revoked key's own
   * activation (the new key must come after it).
   */
  replacementActivation(revoked: StoredSigningKey): Date {
    return new Date(Math.max(this.clock.now().getTime() - REPLACEMENT_SKEW_MS, revoked.activatesAt.getTime()));
  }

  private async read(): Promise<void> {
    const started = performance.now();
    let rows: StoredSigningKey[];
    if (this.source) {
      // Revocations first, from the database: known here even when the JWKS cannot be read.
      await this.readRevoked();
      rows = await this.source.load();
    } else {
      rows = await this.repository.loadAll(this.readsPrivateKeys);
      this.revoked = new Set(rows.filter((row) => row.revokedAt).map((row) => row.kid));
      this.revokedReadAt = started;
    }
    this.loaded = this.build(rows);
    this.loadCount += 1;
  }

  /**
   * The revoked keys' ids, from the database (where keys come from a JWKS). Callers while a read
   * runs share the next one, which starts when that one ends (as reload()).
   */
  private readRevoked(): Promise<void> {
    if (this.revokedReading) {
      this.revokedReadAgain ??= this.revokedReading
        .catch(() => undefined)
        .then(() => {
          this.revokedReadAgain = null;
          return this.readRevoked();
        });
      return this.revokedReadAgain;
    }
    const started = performance.now();
    this.revokedReading = this.repository
      .revokedKids()
      .then(
        (revoked) => {
          this.revoked = revoked;
          this.revokedReadAt = started;
        },
        (error: unknown) => {
          this.revokedReadAt = Number.NEGATIVE_INFINITY;
          throw error;
        },
      )
      .finally(() => {
        this.revokedReading = null;
      });
    return this.revokedReading;
  }

  /** A JWKS is read again when its cache lifetime has passed; a failed read keeps the keys it had. */
  private scheduleSourceRefresh(): void {
    const source = this.source as KeySource;
    this.refreshTimer = setTimeout(() => {
      this.reload()
        .catch((error: Error) => this.logger.warn(`Could not read the keys again: ${error.message}`))
        .finally(() => {
          if (this.refreshTimer) this.scheduleSourceRefresh();
        });
    }, source.refreshIntervalMs);
    this.refreshTimer.unref();
  }

  private build(rows: StoredSigningKey[]): Loaded {
    const byKid = new Map<string, SigningKey>();
    const unusable = new Map<string, string>();
    const secretKey = this.settings.secretKey;
    const schedule: Loaded['schedule'] = secretKey
      ? [{ kid: secretKey.kid, activatesAt: secretKey.activatesAt, key: secretKey }]
      : [];
    if (secretKey) byKid.set(secretKey.kid, secretKey);
    // Rows come in the order they take over signing (activation, then creation).
    for (const row of rows) {
      if (row.revokedAt) {
        // Never read, never trusted. Where it once took over signing, its place stays in the
        // schedule: nothing older signs after it.
        if (this.settings.mode !== 'verifier' && row.revokedAt >= row.activatesAt) {
          schedule.push({ kid: row.kid, activatesAt: row.activatesAt.getTime(), key: undefined, revoked: true });
        }
        continue;
      }
      const key = this.fromRow(row, unusable);
      if (key) byKid.set(key.kid, key);
      if (this.settings.mode !== 'verifier')
        schedule.push({ kid: row.kid, activatesAt: row.activatesAt.getTime(), key });
    }
    const verifyUntil = new Map<string, number>();
    // A JWKS lists only keys that may verify now, without dates: its keys have no end here.
    for (const entry of this.source ? [] : this.timeline(rows)) {
      if (entry.verifyUntil) verifyUntil.set(entry.kid, entry.verifyUntil.getTime());
    }
    return { byKid, schedule, verifyUntil, unusable };
  }

  /**
   * The usable key of a row, or undefined (logged, and noted in `unusable`): one bad row must not
   * stop this instance from reading the others. A key pair's public key must be the one its kid
   * (its thumbprint) names, and, where the private key is read, the private key's own: a public
   * key swapped in the table is never trusted.
   */
  private fromRow(row: StoredSigningKey, unusable: Map<string, string>): SigningKey | undefined {
    if (!isSigningAlgorithm(row.algorithm)) {
      unusable.set(row.kid, `unknown algorithm ${row.algorithm}`);
      this.logger.error(`Key ${row.kid}: unknown algorithm ${row.algorithm}; ignored`);
      return undefined;
    }
    // A verifier never sees secrets: HMAC keys are not for other services (nor for the CLI without
    // the key-encryption secret, which has no use for them then).
    if (!this.readsPrivateKeys && !isAsymmetric(row.algorithm)) return undefined;
    try {
      let material: Buffer | undefined;
      if (this.readsPrivateKeys) {
        if (!this.settings.encryption) {
          throw new Error(
            'signing_keys holds keys, so the key-encryption secret is required to use them (AuthModule option keyEncryptionSecret)',
          );
        }
        material = this.settings.encryption.decrypt(row.privateKeyEncrypted ?? '', row.kid, row.algorithm);
      }
      const key = keyFromStorage(row.kid, row.algorithm, row.publicKey, material, row.activatesAt.getTime());
      if (isAsymmetric(row.algorithm) && thumbprint(key.verifyKey) !== row.kid) {
        throw new Error('its public key is not the one its id names');
      }
      return key;
    } catch (error) {
      const reason = (error as Error).message;
      unusable.set(row.kid, reason);
      this.logger.error(`Key ${row.kid} cannot be used on this instance: ${reason}`);
      return undefined;
    }
  }

  /**
   * The first start with an asymmetric algorithm (or with no secret at all) creates a key that
   * signs at once: there is no older key that other instances would still be signing with.
   */
  private async ensureFirstKey(): Promise<void> {
    const algorithm = this.settings.algorithm;
    if (!isAsymmetric(algorithm) && this.settings.secretKey) return;
    const encryption = this.settings.encryption;
    if (!encryption) {
      throw new Error(
        `Signing with ${algorithm} keeps its key in signing_keys, encrypted: the key-encryption secret is required (AuthModule option keyEncryptionSecret)`,
      );
    }
    await this.repository.change(async (rows, manager) => {
      if (rows.length > 0) return;
      const generated = generateKey(algorithm);
      await this.repository.insert(manager, {
        kid: generated.kid,
        algorithm,
        publicKey: generated.publicKeyPem,
        privateKeyEncrypted: encryption.encrypt(generated.secretMaterial, generated.kid, algorithm),
        activatesAt: this.clock.now(),
      });
      this.logger.log(`Created the first signing key ${generated.kid} (${algorithm})`);
    });
  }
}
