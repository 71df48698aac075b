/**
 * Revocations as events: what the revoking instance applies to its own memory after commit, and
 * what every other instance receives through PostgreSQL NOTIFY (sent in the same transaction, so a
 * rolled-back revocation is never announced).
 */
export const REVOCATION_CHANNEL = 'auth_revocations';

export type RevocationEvent =
  /** One access token (by jti) is denied until it expires. */
  | { kind: 'token'; jti: string; expiresAt: number }
  /** Sessions revoked at `revokedAt`: every token of theirs is denied. */
  | { kind: 'sessions'; ids: string[]; revokedAt: number }
  /** Every token of the user issued before `validAfter` is denied. */
  | { kind: 'user'; userId: string; validAfter: number };

/** NOTIFY payloads are limited to 8000 bytes: session ids go out in chunks of this many. */
export const SESSION_IDS_PER_NOTIFICATION = 150;

/** Compact wire form: one short key per field. */
export function encodeEvent(event: RevocationEvent): string {
  switch (event.kind) {
    case 'token':
      return JSON.stringify({ k: 't', j: event.jti, e: event.expiresAt });
    case 'sessions':
      return JSON.stringify({ k: 's', i: event.ids, a: event.revokedAt });
    case 'user':
      return JSON.stringify({ k: 'u', u: event.userId, v: event.validAfter });
  }
}

const isString = (value: unknown): value is string => typeof value === 'string' && value.length <= 64;
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Parses a payload; null when it is not one of ours (the caller then resynchronises from the database). */
export function decodeEvent(payload: string | undefined): RevocationEvent | null {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(payload ?? '') as Record<string, unknown>;
  } catch {
    return null;
  }
  if (typeof data !== 'object' || data === null) return null;
  if (data.k === 't' && isString(data.j) && isTime(data.e)) return { kind: 'token', jti: data.j, expiresAt: data.e };
  if (data.k === 's' && Array.isArray(data.i) && data.i.every(isString) && isTime(data.a)) {
    return { kind: 'sessions', ids: data.i as string[], revokedAt: data.a };
  }
  if (data.k === 'u' && isString(data.u) && isTime(data.v)) return { kind: 'user', userId: data.u, validAfter: data.v };
  return null;
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
