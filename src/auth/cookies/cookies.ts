/**
 * Cookie transport (a client asks for it with `X-Auth-Transport: cookie`): the tokens travel in
 * HttpOnly cookies that no script can read, instead of in JSON bodies a web app would have to
 * keep in storage that scripts can read.
 */

/** The request header by which a browser client asks for cookies (and shows it is no cross-site form). */
export const AUTH_TRANSPORT_HEADER = 'x-auth-transport';
export const COOKIE_TRANSPORT = 'cookie';

/**
 * The access token: `__Host-` makes the browser refuse it unless it is Secure, has Path=/ and no
 * Domain, so that no sibling subdomain can plant or overwrite it.
 */
export const ACCESS_TOKEN_COOKIE = '__Host-auth_access';
/** The refresh token: `__Secure-` (Secure required); sent only to the refresh route (its Path). */
export const REFRESH_TOKEN_COOKIE = '__Secure-auth_refresh';

/** Longest Cookie header read; browsers send at most about 8 kB in practice. */
const MAX_COOKIE_HEADER_LENGTH = 16 * 1024;

interface RequestWithHeaders {
  headers: Record<string, string | string[] | undefined>;
}

/** True when the request asks for cookie transport. */
export function wantsCookies(request: RequestWithHeaders): boolean {
  const header = request.headers[AUTH_TRANSPORT_HEADER];
  return typeof header === 'string' && header.trim().toLowerCase() === COOKIE_TRANSPORT;
}

/**
 * The value of the cookie `name` in a Cookie header, or null: one pass over the header, nothing
 * parsed but the cookie asked for. The first of several with the same name wins (the browser
 * sends the most specific path first).
 */
export function readCookie(header: string | string[] | undefined, name: string): string | null {
  if (typeof header !== 'string' || header.length > MAX_COOKIE_HEADER_LENGTH) return null;
  const found = findCookie(header, name, 0);
  if (found === null) return null;
  let value = header.slice(found.start, found.end).trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value === '' ? null : value;
}

/** How many cookies of that name the header holds (a planted duplicate shows as 2). */
export function countCookies(header: string | string[] | undefined, name: string): number {
  if (typeof header !== 'string' || header.length > MAX_COOKIE_HEADER_LENGTH) return 0;
  let count = 0;
  for (let found = findCookie(header, name, 0); found !== null; found = findCookie(header, name, found.end + 1)) {
    count += 1;
  }
  return count;
}

/** Where the value of the next cookie `name` at or after `from` starts and ends; null when there is none. */
function findCookie(header: string, name: string, from: number): { start: number; end: number } | null {
  let start = from;
  while (start < header.length) {
    while (header[start] === ' ' || header[start] === '\t') start += 1;
    const semicolon = header.indexOf(';', start);
    const end = semicolon === -1 ? header.length : semicolon;
    if (header.startsWith(name, start) && header[start + name.length] === '=') {
      return { start: start + name.length + 1, end };
    }
    start = end + 1;
  }
  return null;
}

/** Set-Cookie values that store a fresh pair (Max-Age in whole seconds, at least 0). */
export function tokenCookies(
  tokens: { accessToken: string; accessMaxAge: number; refreshToken: string; refreshMaxAge: number },
  refreshPath: string,
): string[] {
  return [
    accessTokenCookie(tokens.accessToken, tokens.accessMaxAge),
    `${REFRESH_TOKEN_COOKIE}=${tokens.refreshToken}; Path=${refreshPath}; Max-Age=${Math.max(0, tokens.refreshMaxAge)}; HttpOnly; Secure; SameSite=Strict`,
  ];
}

/** The Set-Cookie value that stores an access token alone (a re-authentication's new one). */
export function accessTokenCookie(accessToken: string, maxAge: number): string {
  return `${ACCESS_TOKEN_COOKIE}=${accessToken}; Path=/; Max-Age=${Math.max(0, maxAge)}; HttpOnly; Secure; SameSite=Lax`;
}

/** Set-Cookie values that remove both cookies (same names, paths and attributes, expired). */
export function clearedCookies(refreshPath: string): string[] {
  return [
    `${ACCESS_TOKEN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`,
    `${REFRESH_TOKEN_COOKIE}=; Path=${refreshPath}; Max-Age=0; HttpOnly; Secure; SameSite=Strict`,
  ];
}
