import type { AuthTokenClaims } from '../tokens/jwt-claims.interface.js';
import { hexWord, JtiTable } from './jti-table.js';
import type { RevocationEvent } from './revocation-events.js';

export type RevocationClaims = Pick<AuthTokenClaims, 'jti' | 'sid' | 'sub' | 'auth_time_ms'>;

const MINUTE_MS = 60_000;
/**
 * One denied token in a page read at start: 32 hex digits of the jti's 16 bytes, then 8 hex
 * digits of its expiry in whole minutes since the epoch (rounded up).
 */
export const TOKEN_PAGE_RECORD_LENGTH = 40;

/**
 * One instance's memory of what can still revoke an access token: denied jtis whose tokens have
 * not expired, recently revoked sessions, recent users' cut-offs and recently deleted users.
 * Everything older than the access-token lifetime can only concern expired tokens, and is pruned.
 */
export class RevocationStore {
  /** Denied jtis with their token's expiry in whole minutes, rounded up (pruned up to a minute late: harmless). */
  private readonly tokens = new JtiTable();
  /** session id → revocation time (ms). */
  private readonly sessions = new Map<string, number>();
  /** user id → tokens_valid_after (ms, database clock). */
  private readonly cutoffs = new Map<string, number>();
  /** user id → deletion time (ms). */
  private readonly deleted = new Map<string, number>();

  isRevoked(claims: RevocationClaims): boolean {
    if (this.tokens.has(claims.jti) || this.sessions.has(claims.sid) || this.deleted.has(claims.sub)) {
      return true;
    }
    const cutoff = this.cutoffs.get(claims.sub);
    return cutoff !== undefined && claims.auth_time_ms < cutoff;
  }

  apply(event: RevocationEvent): void {
    switch (event.kind) {
      case 'token':
        this.tokens.add(event.jti, Math.ceil(event.expiresAt / MINUTE_MS));
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
    for (let offset = 0; offset + TOKEN_PAGE_RECORD_LENGTH <= page.length; offset += TOKEN_PAGE_RECORD_LENGTH) {
      this.tokens.addHex(page, offset, hexWord(page, offset + 32));
    }
  }

  /**
   * Forgets what can no longer matter: tokens past their expiry, and sessions, cut-offs and
   * deletions older than `horizon` (now minus the access-token lifetime, with a margin for clock
   * skew): no access token issued before them is still unexpired, and none is issued after them.
   */
  prune(now: number, horizon: number): void {
    // A token whose expiry minute ends at or before now has expired.
    this.tokens.pruneBefore(Math.floor(now / MINUTE_MS) + 1);
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
