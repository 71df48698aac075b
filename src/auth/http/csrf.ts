import { ForbiddenException } from '@nestjs/common';
import { wantsCookies } from './cookies.js';

export const CSRF_FAILED = 'CSRF check failed';

/** Methods that change something: a cookie-authenticated one must pass the CSRF check. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

interface CsrfRequest {
  method?: string;
  headers: Record<string, string | string[] | undefined>;
}

export function changesState(request: CsrfRequest): boolean {
  return STATE_CHANGING.has((request.method ?? 'GET').toUpperCase());
}

/**
 * CSRF defence for cookie-authenticated requests, without a token to keep: a cross-site page
 * cannot set a custom header without a CORS preflight that this module never grants, modern
 * browsers say `Sec-Fetch-Site: cross-site` on every cross-site request, and `Origin` names the
 * page that sent it. So the request must carry `X-Auth-Transport: cookie`, must not be
 * cross-site, and when it has an Origin, that must be the app's own (the Host it was sent to) or
 * a trusted one. Otherwise 403 `CSRF check failed`, before anything changes.
 */
export function assertCsrfSafe(request: CsrfRequest, trustedOrigins: ReadonlySet<string>): void {
  if (!wantsCookies(request) || request.headers['sec-fetch-site'] === 'cross-site') {
    throw new ForbiddenException(CSRF_FAILED);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  if (typeof origin !== 'string' || !(trustedOrigins.has(origin) || isOwnOrigin(origin, request.headers.host))) {
    throw new ForbiddenException(CSRF_FAILED);
  }
}

/** An http(s) origin whose host (and port) is the one the request was sent to. */
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
