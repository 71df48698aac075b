import { MAX_BEARER_TOKEN_LENGTH } from '../auth.constants.js';

/** The bearer token of a request, or why there is none. */
export type BearerResult = { token: string } | { token: null; reason: 'missing' | 'malformed' };

const PARSED = Symbol('auth:bearer');
/** RFC 6750 b64token: the characters a JWT (base64url and dots) is made of, and a few more. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** "Bearer", one or more spaces or tabs, the token, optional trailing spaces. */
const MAX_HEADER_LENGTH = 'Bearer '.length + MAX_BEARER_TOKEN_LENGTH + 64;

/** What the module reads of a request, on Express and Fastify alike. */
export interface RequestWithHeaders {
  headers: Record<string, string | string[] | undefined>;
  [PARSED]?: BearerResult;
}

/**
 * The request's bearer token, parsed once per request (the guard and passport-jwt both ask) in
 * linear time: a length cap first, then a scan of the scheme and whitespace, then one anchored
 * character-class test. passport-jwt's own extractor uses an unanchored regex that backtracks
 * quadratically on a long header without spaces (about 0.2 s for 16 kB), so it is not used.
 */
export function bearerOf(request: RequestWithHeaders): BearerResult {
  const cached = request[PARSED];
  if (cached) return cached;
  const result = parseBearer(request.headers.authorization);
  request[PARSED] = result;
  return result;
}

export function parseBearer(header: string | string[] | undefined): BearerResult {
  const scanned = scanBearer(header);
  if (scanned.token !== null && !B64TOKEN.test(scanned.token)) return { token: null, reason: 'malformed' };
  return scanned;
}

/**
 * The token of an `Authorization: Bearer` header, cut out but not yet checked for its character
 * set (parseBearer does that): a string that is not a well-formed token can still be compared
 * with tokens known to be valid, and never equal one of them.
 */
export function scanBearer(header: string | string[] | undefined): BearerResult {
  if (header === undefined || header === '') return { token: null, reason: 'missing' };
  if (typeof header !== 'string' || header.length > MAX_HEADER_LENGTH) return { token: null, reason: 'malformed' };
  // Another scheme (Basic, ...) is not a bearer token at all.
  if (header.length < 6 || header.slice(0, 6).toLowerCase() !== 'bearer') return { token: null, reason: 'missing' };
  let start = 6;
  while (start < header.length && (header[start] === ' ' || header[start] === '\t')) start += 1;
  if (start === 6) return { token: null, reason: header.length === 6 ? 'missing' : 'malformed' };
  let end = header.length;
  while (end > start && (header[end - 1] === ' ' || header[end - 1] === '\t')) end -= 1;
  const token = header.slice(start, end);
  if (token.length === 0) return { token: null, reason: 'missing' };
  if (token.length > MAX_BEARER_TOKEN_LENGTH) return { token: null, reason: 'malformed' };
  return { token };
}
