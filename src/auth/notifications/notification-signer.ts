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
  private readonly key: Buffer | null;

  private constructor(
    /** Every key accepted, the one that signs first. */
    private readonly keys: Buffer[],
    /** Where the signing key came from; `none`: a verifier without `notificationSecret`. */
    readonly source: NotificationKeySource,
  ) {
    this.key = keys[0] ?? null;
  }

  /**
   * The channel's keys: HKDF-SHA256 of `notificationSecret`, of the `secret` option and of
   * `keyEncryptionSecret`, each one given. The first signs; a payload signed with any of them is
   * accepted (whoever holds one of these secrets is trusted already), so the operator CLI, given
   * only one of the app's secrets, is still heard. A verifier holds none of the signing secrets:
   * it is given `notificationSecret`, which the auth server must then have too.
   */
  static fromOptions(options: NotificationKeyOptions): NotificationSigner {
    const keys: Buffer[] = [];
    let source: NotificationKeySource = 'none';
    for (const name of ['notificationSecret', 'secret', 'keyEncryptionSecret'] as const) {
      const value = options[name];
      if (value === undefined || value === '') continue;
      const key = deriveNotificationKey(value);
      if (keys.some((known) => known.equals(key))) continue;
      if (keys.length === 0) source = name;
      keys.push(key);
    }
    return new NotificationSigner(keys, source);
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
   * The listener's heartbeat: signed when there is a key; without one (a verifier not given
   * `notificationSecret`) sent as it is, since it is only for this instance's own listener, which
   * then reads unchecked (everyone else drops it at the cost of a tag check).
   */
  signHeartbeat(body: string): string {
    return this.key ? this.sign(body) : body;
  }

  /**
   * The body of an authentic payload, or null (dropped). Costs at most one HMAC per accepted key
   * (three at most) over at most 8000 bytes, each compared in constant time; nothing is parsed
   * before the tag is checked.
   * Without a key (a verifier not given `notificationSecret`), the tag is cut off unchecked and
   * the body is taken as a hint, within the same bounds.
   */
  open(payload: string | undefined): string | null {
    if (payload === undefined || payload.length > MAX_PAYLOAD_CHARS) return null;
    const tagged = splitTagged(payload);
    if (!this.key) return tagged ? tagged.body : payload;
    if (!tagged) return null;
    return this.keys.some((key) => tagged.signedWith(key)) ? tagged.body : null;
  }

  /**
   * Whether `payload` was signed with the key this signer signs with (not merely one it accepts):
   * the operator CLI's check that the running instances, which sign their heartbeats with their
   * own signing key, will accept what it announces (src/auth/cli/channel-check.ts).
   */
  signedWithSigningKey(payload: string): boolean {
    if (!this.key || payload.length > MAX_PAYLOAD_CHARS) return false;
    return splitTagged(payload)?.signedWith(this.key) ?? false;
  }
}

/** Longest payload read (PostgreSQL's own limit on a NOTIFY payload is 8000 bytes). */
const MAX_PAYLOAD_CHARS = 8000;

/**
 * A payload cut into the body its tag covers and the tag, when it has the shape sign() gives it
 * (`{…,"m":"<22 base64url characters>"}`); null otherwise. Nothing is parsed.
 */
function splitTagged(payload: string): { body: string; signedWith(key: Buffer): boolean } | null {
  const cut = payload.length - TAIL_LENGTH;
  if (cut <= 1 || payload[0] !== '{' || !payload.startsWith(TAIL_PREFIX, cut) || !payload.endsWith('"}')) return null;
  const given = payload.slice(cut + TAIL_PREFIX.length, -2);
  if (!TAG.test(given)) return null;
  const body = `${payload.slice(0, cut)}}`;
  const givenBytes = Buffer.from(given, 'latin1');
  // Compared in constant time.
  return { body, signedWith: (key) => timingSafeEqual(Buffer.from(tag(key, body), 'latin1'), givenBytes) };
}

/** The channel's 32-byte key from a secret (see NotificationSigner.fromOptions). */
export function deriveNotificationKey(secret: string | Buffer): Buffer {
  const material = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), HKDF_INFO, 32));
}

function tag(key: Buffer, body: string): string {
  return createHmac('sha256', key).update(body, 'utf8').digest().subarray(0, TAG_BYTES).toString('base64url');
}
