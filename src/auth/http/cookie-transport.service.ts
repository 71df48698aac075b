import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { Clock } from '../interfaces/clock.interface.js';
import type { ResolvedAuthOptions } from '../interfaces/auth-module-options.interface.js';
import type { TokenPair } from '../interfaces/token-pair.interface.js';
import { clearedCookies, readCookie, REFRESH_TOKEN_COOKIE, tokenCookies, wantsCookies } from './cookies.js';
import { assertCsrfSafe } from './csrf.js';

/** The injection token of the module's route prefix (`auth` unless the host chose another). */
export const AUTH_ROUTE_PREFIX = Symbol('AUTH_ROUTE_PREFIX');

/** What a cookie-mode login or refresh answers: no token in the body. */
export interface CookieSession {
  /** Seconds until the access token (and its cookie) expires. */
  expiresIn: number;
  sessionId: string;
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

  /** The refresh token of the refresh cookie, or null. */
  refreshToken(request: TransportRequest): string | null {
    return readCookie(request.headers.cookie, REFRESH_TOKEN_COOKIE);
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
    return { expiresIn: pair.expiresIn, sessionId: pair.sessionId };
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
    const path = (request.url ?? '').split('?', 1)[0];
    const marker = `/${this.routePrefix}/`;
    const at = path.indexOf(marker);
    return at === -1 ? `${marker}refresh` : `${path.slice(0, at)}${marker}refresh`;
  }

  /** The cookie lives as long as the token: the `exp` of a token this module has just signed. */
  private secondsUntilExpiry(token: string): number {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    const exp = typeof payload.exp === 'number' ? payload.exp : 0;
    return Math.max(0, exp - Math.floor(this.clock.now().getTime() / 1000));
  }

  private setCookies(response: unknown, cookies: string[]): void {
    // Express's and Fastify's adapters both take a list for a header that appears several times.
    this.adapterHost.httpAdapter.setHeader(response, 'Set-Cookie', cookies as unknown as string);
  }
}
