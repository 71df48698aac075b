import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors } from './auth.constants.js';
import type { Clock } from './interfaces/clock.interface.js';
import type { AuthTokenClaims } from './interfaces/jwt-claims.interface.js';
import { RevocationRepository, type RevokedTokenRecord } from './repositories/revocation.repository.js';

export const REVOCATION_REASONS = {
  logout: 'logout',
  logoutAll: 'logout_all',
  refreshReuse: 'refresh_token_reuse',
  deviceRevoked: 'device_revoked',
  passwordChange: 'password_change',
  operator: 'operator_revoked',
} as const;

export interface RevokeAllOptions {
  /** Suspend the account until then: login gives 403 until this instant. Past or absent: revoke only. */
  until?: Date;
  /** Recorded on the sessions. Default `logout_all`. */
  reason?: string;
}

/**
 * Decides whether a validly signed token has been revoked, and records revocations.
 * Today every check reads the database (one round trip); this is the one place to make it faster.
 */
@Injectable()
export class RevocationService {
  constructor(
    private readonly revocations: RevocationRepository,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  /** Throws 401 when the access token's jti is denied, its session is revoked or over, or the user's cut-off is later. */
  async assertAccessTokenValid(claims: AuthTokenClaims): Promise<void> {
    const state = await this.revocations.findState(claims.jti, claims.sid, claims.sub);
    if (!state || state.tokenRevoked || state.sessionRevokedAt) throw new UnauthorizedException(AuthErrors.revoked);
    if (isIssuedBefore(claims, state.tokensValidAfter)) throw new UnauthorizedException(AuthErrors.revoked);
    if (state.sessionExpiresAt.getTime() <= this.clock.now().getTime()) {
      throw new UnauthorizedException(AuthErrors.expired);
    }
  }

  /** Revokes a session and denies the presenting access token itself until it expires. */
  revokeSessionAndToken(
    userId: string,
    sessionId: string,
    token: RevokedTokenRecord,
    reason: string,
  ): Promise<boolean> {
    return this.revocations.revokeSession(userId, sessionId, this.clock.now(), reason, token);
  }

  /** Revokes a session (no token at hand), e.g. on refresh-token reuse. */
  revokeSession(userId: string, sessionId: string, reason: string): Promise<boolean> {
    return this.revocations.revokeSession(userId, sessionId, this.clock.now(), reason);
  }

  /**
   * One row update invalidates every token the user holds; all sessions are marked revoked too.
   * With `until` in the future the account is suspended until then, and tokens issued before that
   * never come back. False when there is no such user.
   */
  revokeAllForUser(userId: string, options: RevokeAllOptions = {}): Promise<boolean> {
    const now = this.clock.now();
    const validAfter = options.until && options.until > now ? options.until : now;
    return this.revocations.revokeAllForUser(userId, validAfter, now, options.reason ?? REVOCATION_REASONS.logoutAll);
  }

  /** Sets a new password hash and revokes every other session of the user at once. */
  changePassword(userId: string, passwordHash: string, keepSessionId: string): Promise<void> {
    return this.revocations.changePassword(
      userId,
      passwordHash,
      keepSessionId,
      this.clock.now(),
      REVOCATION_REASONS.passwordChange,
    );
  }
}

/** True when the token was issued before the user's cut-off (compared in milliseconds, not iat's seconds). */
export function isIssuedBefore(claims: Pick<AuthTokenClaims, 'iat_ms'>, cutoff: Date | null): boolean {
  return cutoff !== null && claims.iat_ms < cutoff.getTime();
}
