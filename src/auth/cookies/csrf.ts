import { ForbiddenException } from '@nestjs/common';
import { wantsCookies } from './cookies.js';

export const CSRF_FAILED = 'CSRF check failed';

/**
 * Methods that cannot change anything: every other one (POST, PUT, PATCH, DELETE, and WebDAV's,
 * which Nest routes too) must pass the CSRF check when it authenticates with a cookie.
 */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface CsrfRequest {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
}

export function changesState(request: CsrfRequest): boolean {
  return !SAFE_METHODS.has((request.method ?? 'GET').toUpperCase());
}

/**
 * CSRF defence for cookie-authenticated requests, without a token to keep: a cross-site page
 * cannot set a custom header without a CORS preflight that this module never grants, modern
 * browsers say `Sec-Fetch-Site: cross-site` on every cross-site request, and `Origin` names the
 * page that sent it. So the request must carry `X-Auth-Transport: cookie`, must not be
 * cross-site, and when it has an Origin, that must be the app's own (the host and port it was sent
 * to) or a trusted one. Otherwise 403 `CSRF check failed`, before anything changes.
 */
export function assertCsrfSafe(request: CsrfRequest, trustedOrigins: ReadonlySet<string>): void {
  if (!wantsCookies(request) || request.headers['sec-fetch-site'] === 'cross-site') {
    throw new ForbiddenException(CSRF_FAILED);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  // HTTP/2 has no Host header: its :authority pseudo-header says the same.
  const host = request.headers.host ?? request.headers[':authority'];
  if (typeof origin !== 'string' || !(trustedOrigins.has(origin) || isOwnOrigin(origin, host))) {
    throw new ForbiddenException(CSRF_FAILED);
  }
}

/**
 * An http(s) origin whose host and port are the ones the request was sent to. The scheme is not
 * compared: behind a TLS-terminating proxy the app itself sees plain HTTP.
 */
function isOwnOrigin(origin: string, host: string | string[] | undefined): boolean {
  if (typeof host !== 'string' || host === '') return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === origin && url.host === host.toLowerCase()
  );
}
