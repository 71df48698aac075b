import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { AccountTokenRepository } from '../recovery/account-token.repository.js';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-jwt';
import { AUTH_JWT_STRATEGY, AuthErrors, STRICT_REVOCATION_REQUEST, TOKEN_TYPE_ACCESS } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { assertCsrfSafe, changesState } from '../cookies/csrf.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { accessTokenOf, type RequestWithHeaders } from './bearer.js';
import { PASSWORD_ONLY } from './amr.js';

const NO_ROLES: readonly string[] = Object.freeze([]);
import type { AuthenticatedUser } from './authenticated-user.interface.js';
import type { AuthTokenClaims } from './jwt-claims.interface.js';
import { RevocationService } from '../revocation/revocation.service.js';
import { SessionActivityService } from '../sessions/session-activity.service.js';
import { TokenService } from './token.service.js';

/** The request's access token (bearer header, else cookie), parsed once per request in linear time. */
export const extractBearer = (request: RequestWithHeaders): string | null => accessTokenOf(request).token;

export interface StrictFlag {
  [STRICT_REVOCATION_REQUEST]?: boolean;
}

/** What passport gives a strategy for one authentication attempt. */
interface PassportOutcome {
  success(user: unknown): void;
  fail(info?: unknown): void;
  error(error: unknown): void;
}

/**
 * passport-jwt strategy (`auth-jwt`, for AuthGuard('auth-jwt') and JwtAuthGuard): the token is
 * found as passport-jwt's `jwtFromRequest` says, its signature checked with the key its `kid`
 * names (TokenService), then the same claim checks, then revocation.
 *
 * `authenticate` is the module's own: passport-jwt hands verification to jsonwebtoken with one
 * key and a list of algorithms, which can neither choose a key by `kid` nor check EdDSA. The
 * outcome is reported to passport exactly as passport-jwt does (fail: no token or a bad
 * signature; error: what validate() throws).
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, AUTH_JWT_STRATEGY) {
  constructor(
    private readonly tokens: TokenService,
    private readonly revocation: RevocationService,
    private readonly activity: SessionActivityService,
    private readonly accounts: AccountTokenRepository,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {
    super({
      jwtFromRequest: extractBearer,
      // Never called (authenticate below chooses the key by kid); passport-jwt requires one.
      secretOrKeyProvider: (_request: unknown, _token: string, done: (error: Error) => void) =>
        done(new UnauthorizedException(AuthErrors.invalid)),
      passReqToCallback: true,
    });
  }

  override authenticate(this: JwtStrategy & PassportOutcome, request: RequestWithHeaders & StrictFlag): void {
    const token = extractBearer(request);
    // passport-jwt's words: JwtAuthGuard and AuthGuard tell a missing token by them.
    if (!token) return this.fail(new Error('No auth token'));
    this.tokens
      .verifiedPayload(token)
      .then((payload) => {
        if (payload === undefined) return this.fail(new UnauthorizedException(AuthErrors.invalid));
        return this.validate(request, payload).then(
          (user) => this.success(user),
          (error: unknown) => this.error(error),
        );
      })
      .catch((error: unknown) => this.error(error));
  }

  /** 403 unless the user's email address is verified (routes with @RequireVerifiedEmail()). */
  async assertEmailVerified(userId: string): Promise<void> {
    if (!(await this.accounts.isEmailVerified(userId))) throw new ForbiddenException(AuthErrors.emailNotVerified);
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
    authTime: claims.auth_time ?? Math.floor(claims.auth_time_ms / 1000),
    amr: claims.amr ?? PASSWORD_ONLY,
    roles: claims.roles ?? NO_ROLES,
  };
}
