import { createHmac, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TEST_SECRET } from './test-app.js';

export function decode(token: string): Record<string, unknown> {
  return jwt.decode(token) as Record<string, unknown>;
}

const HMAC_OF: Record<string, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** Signs arbitrary claims by hand (jsonwebtoken would vet them), to forge tokens the module must refuse. */
export function sign(claims: Record<string, unknown>, secret: string = TEST_SECRET, algorithm = 'HS256'): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode({ alg: algorithm, typ: 'JWT' })}.${encode(claims)}`;
  const signature = createHmac(HMAC_OF[algorithm], secret).update(signingInput).digest('base64url');
  return `${signingInput}.${signature}`;
}

export function unsignedToken(claims: Record<string, unknown>): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`;
}

/** Claims of an access token as the module writes them; the session's sign-in time defaults to `nowMs`. */
export function accessClaims(
  base: { sub: string; sid: string },
  nowMs: number,
  ttl = 900,
  authTimeMs = nowMs,
): Record<string, unknown> {
  const iat = Math.floor(nowMs / 1000);
  return {
    sub: base.sub,
    sid: base.sid,
    jti: randomUUID(),
    typ: 'access',
    iat,
    iat_ms: nowMs,
    exp: iat + ttl,
    auth_time_ms: authTimeMs,
  };
}
