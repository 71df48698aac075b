import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AUTH_CLOCK, AuthErrors } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { Clock } from '../common/clock.interface.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { TokenPair } from '../login/token-pair.interface.js';
import {
  ACCESS_TOKEN_COOKIE,
  accessTokenCookie,
  clearedCookies,
  countCookies,
  readCookie,
  REFRESH_TOKEN_COOKIE,
  tokenCookies,
  wantsCookies,
} from './cookies.js';
import { assertCsrfSafe } from './csrf.js';

/** The injection token of the module's route prefix (`auth` unless the host chose another). */
export const AUTH_ROUTE_PREFIX = Symbol('AUTH_ROUTE_PREFIX');

/** Characters a refresh cookie's Path may hold (no `;`, no space, no control character). */
const SAFE_COOKIE_PATH = /^\/[A-Za-z0-9._~%/-]*$/;

/** What a cookie-mode login or refresh answers: no token in the body. */
export interface CookieSession {
  /** Seconds until the access token (and its cookie) expires. */
  expiresIn: number;
  sessionId: string;
  /** In a login's answer: whether the account's email address is verified. */
  emailVerified?: boolean;
}

export interface TransportRequest {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The cookie side of login, refresh and sign-out: whether a request asked for cookies (and may,
 * by the CSRF rules), the Set-Cookie headers that deliver or clear the tokens, on Express and
 * Fastify alike.
 */
@Injectable()
export class CookieTransportService {
  constructor(
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
    @Inject(AUTH_ROUTE_PREFIX) private readonly routePrefix: string,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * True when the request asks for cookie transport (`X-Auth-Transport: cookie`); such a login or
   * refresh must also pass the CSRF check (403 otherwise, before anything happens).
   */
  requested(request: TransportRequest): boolean {
    if (!wantsCookies(request)) return false;
    assertCsrfSafe(request, this.options.trustedOrigins);
    return true;
  }

  /**
   * The refresh token of the refresh cookie, or null. A `__Secure-` cookie can be planted by a
   * sibling subdomain (it may carry a Domain): two refresh cookies are refused, and one whose
   * session is not that of this browser's own access cookie (a `__Host-` cookie, which no other
   * host can set), when there is one, too (401).
   */
  refreshToken(request: TransportRequest): string | null {
    const cookies = request.headers.cookie;
    const token = readCookie(cookies, REFRESH_TOKEN_COOKIE);
    if (token === null) return null;
    if (countCookies(cookies, REFRESH_TOKEN_COOKIE) > 1) throw new UnauthorizedException(AuthErrors.invalid);
    const access = readCookie(cookies, ACCESS_TOKEN_COOKIE);
    // Claims read without verifying: the refresh token is verified next, and the access token only
    // has to name the same session (expired or not) for the refresh to go on.
    if (access !== null && sessionOf(access) !== sessionOf(token)) throw new UnauthorizedException(AuthErrors.invalid);
    return token;
  }

  /** Sets both cookies for a fresh pair; the body keeps only `expiresIn` and `sessionId`. */
  deliver(request: TransportRequest, response: unknown, pair: TokenPair): CookieSession {
    const cookies = tokenCookies(
      {
        accessToken: pair.accessToken,
        accessMaxAge: pair.expiresIn,
        refreshToken: pair.refreshToken,
        refreshMaxAge: this.secondsUntilExpiry(pair.refreshToken),
      },
      this.refreshPath(request),
    );
    this.setCookies(response, cookies);
    return {
      expiresIn: pair.expiresIn,
      sessionId: pair.sessionId,
      ...(pair.emailVerified === undefined ? {} : { emailVerified: pair.emailVerified }),
    };
  }

  /**
   * Sets the access cookie alone (a re-authentication: same session, same refresh token); the
   * body keeps only `expiresIn` and `sessionId`.
   */
  deliverAccess(
    response: unknown,
    access: { accessToken: string; expiresIn: number; sessionId: string },
  ): CookieSession {
    this.setCookies(response, [accessTokenCookie(access.accessToken, access.expiresIn)]);
    return { expiresIn: access.expiresIn, sessionId: access.sessionId };
  }

  /** Removes both cookies when the request uses cookie transport (sign-out, account deletion). */
  clearIfUsed(request: TransportRequest, response: unknown): void {
    if (wantsCookies(request)) this.setCookies(response, clearedCookies(this.refreshPath(request)));
  }

  /**
   * The refresh route's path, as the browser sees it: whatever the host puts before the module's
   * routes (a global prefix) is kept, so the refresh cookie is sent there and nowhere else.
   */
  refreshPath(request: TransportRequest): string {
    const marker = `/${this.routePrefix}/`;
    const fallback = `${marker}refresh`;
    let path: string;
    try {
      // The path alone, whatever form the request line took (an absolute URL included).
      path = new URL(request.url ?? '/', 'http://path.invalid').pathname;
    } catch {
      return fallback;
    }
    const at = path.lastIndexOf(marker);
    const refreshPath = at === -1 ? fallback : `${path.slice(0, at)}${marker}refresh`;
    // Only plain path characters go into a Set-Cookie attribute: nothing can end it early.
    return SAFE_COOKIE_PATH.test(refreshPath) ? refreshPath : fallback;
  }

  /** The cookie lives as long as the token: the `exp` of a token this module has just signed. */
  private secondsUntilExpiry(token: string): number {
    const exp = unverifiedClaims(token)?.exp;
    return Math.max(0, (typeof exp === 'number' ? exp : 0) - Math.floor(this.clock.now().getTime() / 1000));
  }

  /** Appended, never set: cookies the host's own middleware has already set stay. */
  private setCookies(response: unknown, cookies: string[]): void {
    for (const cookie of cookies) this.adapterHost.httpAdapter.appendHeader(response, 'Set-Cookie', cookie);
  }
}

/** A JWT's claims, decoded but not verified; null when it is not a JWT with a JSON payload. */
function unverifiedClaims(token: string): Record<string, unknown> | null {
  try {
    const claims: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The session a token names (unverified), or a value no session has. */
function sessionOf(token: string): unknown {
  return unverifiedClaims(token)?.sid ?? Symbol('no session');
}
