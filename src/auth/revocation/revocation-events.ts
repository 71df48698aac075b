/**
 * Revocations as events: what the revoking instance applies to its own memory after commit, and
 * what every other instance hears of through PostgreSQL NOTIFY (sent in the same transaction, so a
 * rolled-back revocation is never announced).
 *
 * A notification is only a hint naming what changed: any role that can connect may NOTIFY, so a
 * receiver never takes a payload's word for a revocation's extent. It reads the committed state of
 * what the hint names (RevocationStateRepository.confirm) and applies that.
 */
export const REVOCATION_CHANNEL = 'auth_revocations';

export type RevocationEvent =
  /** One access token (by jti) is denied until it expires. */
  | { kind: 'token'; jti: string; expiresAt: number }
  /** Sessions revoked at `revokedAt`: every token of theirs is denied. */
  | { kind: 'sessions'; ids: string[]; revokedAt: number }
  /** Every token of the user's sessions signed in before `validAfter` is denied (database clock, ms). */
  | { kind: 'user'; userId: string; validAfter: number }
  /** The user was deleted at `deletedAt`: every token of theirs is denied. */
  | { kind: 'userDeleted'; userId: string; deletedAt: number };

/** What a notification names: where to look, not what to conclude. */
export type RevocationHint =
  | { kind: 'token'; jti: string }
  | { kind: 'sessions'; ids: string[] }
  | { kind: 'user'; userId: string }
  | { kind: 'userDeleted'; userId: string }
  /** A listener's own round trip through the pool (NotificationListener's heartbeat). */
  | { kind: 'heartbeat'; nonce: string }
  /** signing_keys changed (a key added or retired): reload the keys. */
  | { kind: 'keys' };

/** NOTIFY payloads are limited to 8000 bytes: session ids go out in chunks of this many. */
export const SESSION_IDS_PER_NOTIFICATION = 150;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NONCE = /^[0-9A-Za-z_-]{1,64}$/;
const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** Compact wire form of an event: its kind and ids only. */
export function encodeEvent(event: RevocationEvent): string {
  switch (event.kind) {
    case 'token':
      return JSON.stringify({ k: 't', j: event.jti });
    case 'sessions':
      return JSON.stringify({ k: 's', i: event.ids });
    case 'user':
      return JSON.stringify({ k: 'u', u: event.userId });
    case 'userDeleted':
      return JSON.stringify({ k: 'd', u: event.userId });
  }
}

export function encodeKeysChanged(): string {
  return JSON.stringify({ k: 'K' });
}

export function encodeHeartbeat(nonce: string): string {
  return JSON.stringify({ k: 'h', n: nonce });
}

/** Parses a payload; null when it is not one of ours (the caller then resynchronises from the database). */
export function decodeHint(payload: string | undefined): RevocationHint | null {
  if (payload === undefined || payload.length > 8000) return null;
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  const fields = data as Record<string, unknown>;
  switch (fields.k) {
    case 't':
      return isUuid(fields.j) ? { kind: 'token', jti: fields.j } : null;
    case 's':
      return Array.isArray(fields.i) &&
        fields.i.length > 0 &&
        fields.i.length <= SESSION_IDS_PER_NOTIFICATION &&
        fields.i.every(isUuid)
        ? { kind: 'sessions', ids: fields.i as string[] }
        : null;
    case 'u':
      return isUuid(fields.u) ? { kind: 'user', userId: fields.u } : null;
    case 'd':
      return isUuid(fields.u) ? { kind: 'userDeleted', userId: fields.u } : null;
    case 'K':
      return Object.keys(fields).length === 1 ? { kind: 'keys' } : null;
    case 'h':
      return typeof fields.n === 'string' && NONCE.test(fields.n) ? { kind: 'heartbeat', nonce: fields.n } : null;
    default:
      return null;
  }
}

/** Splits a sessions event so that each payload stays well under NOTIFY's limit. */
export function splitForNotify(event: RevocationEvent): RevocationEvent[] {
  if (event.kind !== 'sessions' || event.ids.length <= SESSION_IDS_PER_NOTIFICATION) return [event];
  const parts: RevocationEvent[] = [];
  for (let start = 0; start < event.ids.length; start += SESSION_IDS_PER_NOTIFICATION) {
    parts.push({ ...event, ids: event.ids.slice(start, start + SESSION_IDS_PER_NOTIFICATION) });
  }
  return parts;
}
