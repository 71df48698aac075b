import type { KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { AUTH_JWT_STRATEGY, STRICT_REVOCATION_REQUEST, TOKEN_TYPE_ACCESS } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS, AUTH_SIGNING_KEY } from '../auth-options.js';
import { assertCsrfSafe, changesState } from '../http/csrf.js';
import type { ResolvedAuthOptions } from '../interfaces/auth-module-options.interface.js';
import { accessTokenOf, type RequestWithHeaders } from '../http/bearer.js';
import type { AuthenticatedUser } from '../interfaces/authenticated-user.interface.js';
import type { AuthTokenClaims } from '../interfaces/jwt-claims.interface.js';
import { RevocationService } from '../revocation/revocation.service.js';
import { SessionActivityService } from '../sessions/session-activity.service.js';
import { TokenService } from './token.service.js';

/** The request's access token (bearer header, else cookie), parsed once per request in linear time. */
export const extractBearer = (request: RequestWithHeaders): string | null => accessTokenOf(request).token;

export interface StrictFlag {
  [STRICT_REVOCATION_REQUEST]?: boolean;
}

/**
 * passport-jwt strategy: verifies the signature with the module's KeyObject and pinned algorithm
 * (the same options TokenService.verify uses), then the same claim checks, then revocation.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, AUTH_JWT_STRATEGY) {
  constructor(
    @Inject(AUTH_SIGNING_KEY) key: KeyObject,
    private readonly tokens: TokenService,
    private readonly revocation: RevocationService,
    private readonly activity: SessionActivityService,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {
    const { algorithms, issuer, audience, ignoreExpiration } = tokens.verifyOptions;
    super({
      jwtFromRequest: extractBearer,
      // A KeyObject, not a string: jsonwebtoken would otherwise try to parse the secret as a PEM key on every call.
      // (@types/passport-jwt lags: jsonwebtoken 9, which does the verification, accepts a KeyObject.)
      secretOrKeyProvider: (_request: unknown, _token: string, done: (error: null, key: Buffer) => void) =>
        done(null, key as unknown as Buffer),
      algorithms,
      issuer: issuer as string | undefined,
      audience: audience as string | undefined,
      ignoreExpiration,
      passReqToCallback: true,
    });
  }

  /** The payload of a token this instance verified before, by its exact string; undefined otherwise. */
  recallVerified(token: string): unknown {
    return this.tokens.recallVerified(token);
  }

  /**
   * passport-jwt calls this once it has verified the signature: the token is checked like any
   * other and, once accepted, remembered as verified for JwtAuthGuard's fast path.
   */
  async validate(request: RequestWithHeaders & StrictFlag, payload: unknown): Promise<AuthenticatedUser> {
    // The strategy may be used without JwtAuthGuard (AuthGuard('auth-jwt') on a host's route):
    // a cookie-authenticated change must pass the CSRF check here too.
    if (accessTokenOf(request).fromCookie && changesState(request)) {
      assertCsrfSafe(request, this.options.trustedOrigins);
    }
    const user = await this.check(payload, request[STRICT_REVOCATION_REQUEST] === true);
    const token = extractBearer(request);
    if (token) this.tokens.rememberVerified(token, payload);
    return user;
  }

  /**
   * Claims, expiry and revocation of a token whose signature is verified: by passport-jwt just
   * before (validate), or earlier for this very token string (JwtAuthGuard's fast path).
   */
  check(payload: unknown, strict: boolean): AuthenticatedUser | Promise<AuthenticatedUser> {
    const claims = this.tokens.assertClaims(payload, TOKEN_TYPE_ACCESS);
    // Answered from memory (the common case): no promise is made unless last_used_at is due.
    if (this.revocation.checkedInMemory(claims, strict)) {
      const writing = this.activity.touch(claims.sid);
      return writing ? writing.then(() => userOf(claims)) : userOf(claims);
    }
    return this.checkInDatabase(claims, strict);
  }

  private async checkInDatabase(claims: AuthTokenClaims, strict: boolean): Promise<AuthenticatedUser> {
    await this.revocation.assertAccessTokenValid(claims, { strict });
    await this.activity.touch(claims.sid);
    return userOf(claims);
  }
}

function userOf(claims: AuthTokenClaims): AuthenticatedUser {
  return {
    userId: claims.sub,
    sessionId: claims.sid,
    tokenId: claims.jti,
    tokenExpiresAt: new Date(claims.exp * 1000),
  };
}
