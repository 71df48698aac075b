import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** What the channel's key is derived from (AuthModule's options, or the verify-only module's). */
export interface NotificationKeyOptions {
  notificationSecret?: string | Buffer;
  secret?: string | Buffer;
  keyEncryptionSecret?: string | Buffer;
}

/** Where the key of the channel came from (said in the start log, never the key). */
export type NotificationKeySource = 'notificationSecret' | 'secret' | 'keyEncryptionSecret' | 'none';

/** Bytes of HMAC-SHA256 kept as the tag: 128 bits, 22 base64url characters. */
const TAG_BYTES = 16;
const TAG_CHARS = 22;
/** What sign() appends to a payload's closing brace: `,"m":"<tag>"}`. */
const TAIL_PREFIX = ',"m":"';
const TAIL_LENGTH = TAIL_PREFIX.length + TAG_CHARS + 2;
const TAG = /^[A-Za-z0-9_-]{22}$/;
/** HKDF's info: the key is for this and nothing else (not a signing key, not an encryption key). */
const HKDF_INFO = 'nest-jwt-revocation notification channel v1';

/** This module (or verifier) has no key for the channel, so it may not announce anything on it. */
export class NotificationKeyMissingError extends Error {}

/**
 * Authenticates what travels on the notification channel. Any role that can connect to the
 * database may NOTIFY; only the module's instances, its operator CLI and verify-only services
 * given the secret hold this key. Every payload the module sends carries an HMAC-SHA256 tag of
 * its body (RevocationRepository, SigningKeyRepository and the listener's heartbeat all send
 * through NotificationRepository, which signs); a receiver checks the tag before it reads
 * anything, so a forged payload costs one HMAC and is dropped.
 *
 * A payload is a JSON object with the tag as its last member: `{"k":"t","j":"…","m":"<tag>"}`,
 * where the tag covers `{"k":"t","j":"…"}` byte for byte (no re-serialisation: the receiver cuts
 * the fixed-length tail off). A genuine payload replayed later names the same thing again: it is
 * confirmed against the database like the first (idempotent), within the same bounds.
 */
export class NotificationSigner {
  private constructor(
    private readonly key: Buffer | null,
    /** Where the key came from; `none`: a verifier without `notificationSecret`. */
    readonly source: NotificationKeySource,
  ) {}

  /**
   * The key of the channel: HKDF-SHA256 of `notificationSecret`, or, without it, of the `secret`
   * option, or of `keyEncryptionSecret` (the first given). Every instance, the CLI and every
   * verifier must derive the same key: a verifier holds none of the signing secrets, so a
   * deployment with verifiers sets `notificationSecret` everywhere.
   */
  static fromOptions(options: NotificationKeyOptions): NotificationSigner {
    for (const source of ['notificationSecret', 'secret', 'keyEncryptionSecret'] as const) {
      const value = options[source];
      if (value !== undefined && value !== '') return new NotificationSigner(deriveNotificationKey(value), source);
    }
    return new NotificationSigner(null, 'none');
  }

  /** True when payloads are checked (and can be sent). */
  get authenticated(): boolean {
    return this.key !== null;
  }

  /** The payload with its tag. Throws when there is no key: an unsigned notice would be dropped everywhere. */
  sign(body: string): string {
    if (!this.key) {
      throw new NotificationKeyMissingError(
        'No key for the notification channel: give this module notificationSecret (NOTIFICATION_SECRET), the same as the auth server’s',
      );
    }
    if (!body.startsWith('{') || !body.endsWith('}') || body === '{}') throw new Error('not a JSON object payload');
    return `${body.slice(0, -1)}${TAIL_PREFIX}${tag(this.key, body)}"}`;
  }

  /**
   * The body of an authentic payload, or null (dropped). Costs at most one HMAC over at most
   * 8000 bytes and a constant-time comparison; nothing is parsed before the tag is checked.
   * Without a key (a verifier not given `notificationSecret`), the tag is cut off unchecked and
   * the body is taken as a hint, within the same bounds.
   */
  open(payload: string | undefined): string | null {
    if (payload === undefined || payload.length > 8000) return null;
    const cut = payload.length - TAIL_LENGTH;
    const signed =
      cut > 1 && payload.startsWith(TAIL_PREFIX, cut) && payload.endsWith('"}') && payload[0] === '{'
        ? payload.slice(cut + TAIL_PREFIX.length, -2)
        : null;
    if (!this.key) return signed !== null && TAG.test(signed) ? `${payload.slice(0, cut)}}` : payload;
    if (signed === null || !TAG.test(signed)) return null;
    const body = `${payload.slice(0, cut)}}`;
    const expected = Buffer.from(tag(this.key, body), 'latin1');
    return timingSafeEqual(expected, Buffer.from(signed, 'latin1')) ? body : null;
  }
}

/** The channel's 32-byte key from a secret (see NotificationSigner.fromOptions). */
export function deriveNotificationKey(secret: string | Buffer): Buffer {
  const material = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), HKDF_INFO, 32));
}

function tag(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body, 'utf8').digest().subarray(0, TAG_BYTES).toString('base64url');
}
