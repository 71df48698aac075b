import type { AuthTokenClaims } from './interfaces/jwt-claims.interface.js';
import type { RevocationEvent } from './revocation-events.js';

export type RevocationClaims = Pick<AuthTokenClaims, 'jti' | 'sid' | 'sub' | 'auth_time_ms'>;

const MINUTE_MS = 60_000;
/**
 * One denied token in a page read at start: 32 hex digits of the jti's 16 bytes, then 8 hex
 * digits of its expiry in whole minutes since the epoch (rounded up).
 */
export const TOKEN_PAGE_RECORD_LENGTH = 40;

/**
 * A UUID as 16 one-byte characters instead of 36: the denylist may hold millions of jtis, and
 * each key is a string on the heap (about 32 bytes instead of 56). Hex digits of either case map
 * to the same key, as PostgreSQL's uuid type compares them. Not a UUID: the text as it is (it can
 * never equal a compacted key, which is 16 characters long, unlike any UUID text).
 */
export function compactUuid(uuid: string): string {
  if (uuid.length !== 36) return uuid;
  const bytes = new Array<number>(16);
  let count = 0;
  for (let index = 0; index < 36; index += 2) {
    if (index === 8 || index === 13 || index === 18 || index === 23) index += 1;
    const high = HEX[uuid.charCodeAt(index)] ?? -1;
    const low = HEX[uuid.charCodeAt(index + 1)] ?? -1;
    if (high < 0 || low < 0) return uuid;
    bytes[count++] = (high << 4) | low;
  }
  // One call, one flat one-byte string (appending char by char would build a rope of 16 nodes).
  return String.fromCharCode(...bytes);
}

/** The value of the hex digit at `index` (the page comes from PostgreSQL's encode(…, 'hex'): always valid). */
function hexAt(text: string, index: number): number {
  return HEX[text.charCodeAt(index)] ?? 0;
}

/** Hex digit value by character code; -1 elsewhere. */
const HEX: number[] = Array.from({ length: 128 }, (_, code) => {
  const char = String.fromCharCode(code);
  return /[0-9a-fA-F]/.test(char) ? Number.parseInt(char, 16) : -1;
});

/**
 * One instance's memory of what can still revoke an access token: denied jtis whose tokens have
 * not expired, recently revoked sessions, recent users' cut-offs and recently deleted users.
 * Everything older than the access-token lifetime can only concern expired tokens, and is pruned.
 */
export class RevocationStore {
  /**
   * compacted jti → token expiry in whole minutes, rounded up: a small integer, stored in the map
   * entry itself rather than as a heap number; pruning a token up to a minute late is harmless.
   */
  private readonly tokens = new Map<string, number>();
  /** session id → revocation time (ms). */
  private readonly sessions = new Map<string, number>();
  /** user id → tokens_valid_after (ms, database clock). */
  private readonly cutoffs = new Map<string, number>();
  /** user id → deletion time (ms). */
  private readonly deleted = new Map<string, number>();

  isRevoked(claims: RevocationClaims): boolean {
    if (this.tokens.has(compactUuid(claims.jti)) || this.sessions.has(claims.sid) || this.deleted.has(claims.sub)) {
      return true;
    }
    const cutoff = this.cutoffs.get(claims.sub);
    return cutoff !== undefined && claims.auth_time_ms < cutoff;
  }

  apply(event: RevocationEvent): void {
    switch (event.kind) {
      case 'token':
        this.tokens.set(compactUuid(event.jti), Math.ceil(event.expiresAt / MINUTE_MS));
        return;
      case 'sessions':
        for (const id of event.ids) this.sessions.set(id, event.revokedAt);
        return;
      case 'user': {
        // Cut-offs only move forward, whatever order events arrive in.
        const current = this.cutoffs.get(event.userId);
        if (current === undefined || event.validAfter > current) this.cutoffs.set(event.userId, event.validAfter);
        return;
      }
      case 'userDeleted':
        this.deleted.set(event.userId, event.deletedAt);
        return;
    }
  }

  /** Denied tokens from a page of fixed-width records (TOKEN_PAGE_RECORD_LENGTH), without a string or array per row. */
  applyTokenPage(page: string): void {
    const bytes = new Array<number>(16);
    for (let offset = 0; offset + TOKEN_PAGE_RECORD_LENGTH <= page.length; offset += TOKEN_PAGE_RECORD_LENGTH) {
      for (let index = 0; index < 16; index += 1) {
        bytes[index] = (hexAt(page, offset + 2 * index) << 4) | hexAt(page, offset + 2 * index + 1);
      }
      let minute = 0;
      for (let index = 32; index < TOKEN_PAGE_RECORD_LENGTH; index += 1)
        minute = minute * 16 + hexAt(page, offset + index);
      this.tokens.set(String.fromCharCode(...bytes), minute);
    }
  }

  /**
   * Forgets what can no longer matter: tokens past their expiry, and sessions, cut-offs and
   * deletions older than `horizon` (now minus the access-token lifetime, with a margin for clock
   * skew): no access token issued before them is still unexpired, and none is issued after them.
   */
  prune(now: number, horizon: number): void {
    for (const [jti, expiresAtMinute] of this.tokens) if (expiresAtMinute * MINUTE_MS <= now) this.tokens.delete(jti);
    for (const [id, revokedAt] of this.sessions) if (revokedAt < horizon) this.sessions.delete(id);
    for (const [id, validAfter] of this.cutoffs) if (validAfter < horizon) this.cutoffs.delete(id);
    for (const [id, deletedAt] of this.deleted) if (deletedAt < horizon) this.deleted.delete(id);
  }

  get size(): { tokens: number; sessions: number; users: number; deletedUsers: number } {
    return {
      tokens: this.tokens.size,
      sessions: this.sessions.size,
      users: this.cutoffs.size,
      deletedUsers: this.deleted.size,
    };
  }
}
