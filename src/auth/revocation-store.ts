import type { AuthTokenClaims } from './interfaces/jwt-claims.interface.js';
import type { RevocationEvent } from './revocation-events.js';

/**
 * One instance's memory of what can still revoke an access token: denied jtis whose tokens have
 * not expired, recently revoked sessions, and recent users' cut-offs. Everything older than the
 * access-token lifetime can only concern expired tokens, and is pruned.
 */
export class RevocationStore {
  /** jti → token expiry (ms). */
  private readonly tokens = new Map<string, number>();
  /** session id → revocation time (ms). */
  private readonly sessions = new Map<string, number>();
  /** user id → tokens_valid_after (ms). */
  private readonly cutoffs = new Map<string, number>();

  isRevoked(claims: Pick<AuthTokenClaims, 'jti' | 'sid' | 'sub' | 'iat_ms'>): boolean {
    if (this.tokens.has(claims.jti) || this.sessions.has(claims.sid)) return true;
    const cutoff = this.cutoffs.get(claims.sub);
    return cutoff !== undefined && claims.iat_ms < cutoff;
  }

  apply(event: RevocationEvent): void {
    switch (event.kind) {
      case 'token':
        this.tokens.set(event.jti, event.expiresAt);
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
    }
  }

  /**
   * Forgets what can no longer matter: tokens past their expiry, and sessions and cut-offs older
   * than `horizon` (now minus the access-token lifetime, with a margin for clock skew).
   */
  prune(now: number, horizon: number): void {
    for (const [jti, expiresAt] of this.tokens) if (expiresAt <= now) this.tokens.delete(jti);
    for (const [id, revokedAt] of this.sessions) if (revokedAt < horizon) this.sessions.delete(id);
    for (const [id, validAfter] of this.cutoffs) if (validAfter < horizon) this.cutoffs.delete(id);
  }

  get size(): { tokens: number; sessions: number; users: number } {
    return { tokens: this.tokens.size, sessions: this.sessions.size, users: this.cutoffs.size };
  }
}
