import { KID_PATTERN } from './signing-key.js';

/** A compact JWS split into its parts, with its protected header read and vetted. */
export interface CompactJws {
  alg: string;
  /** Absent only in tokens signed before keys had ids (see SigningKeys.keyFor). */
  kid: string | undefined;
  /** `header.payload`: what the signature covers. */
  input: string;
  payloadPart: string;
  signature: string;
}

/**
 * The only header parameters a token may carry. Anything else is refused before a key is chosen:
 * `jku`, `x5u`, `jwk` and `x5c` (a key or a place to fetch one, which would let the token pick
 * its own key), `crit` and `b64` (processing rules this module does not follow), and whatever a
 * future specification adds.
 */
const HEADER_PARAMETERS = new Set(['alg', 'typ', 'kid']);
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_HEADER_CHARS = 512;

/** Reads a compact JWS (three base64url parts); null when it is not one or its header is not allowed. */
export function readCompactJws(token: string): CompactJws | null {
  // Whatever a caller hands over, only a string can be a token.
  if (typeof token !== 'string') return null;
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) !== -1) return null;
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signature = token.slice(second + 1);
  if (headerPart.length > MAX_HEADER_CHARS || !BASE64URL.test(headerPart)) return null;
  if (!BASE64URL.test(payloadPart) || !BASE64URL.test(signature)) return null;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(headerPart, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return null;
  const fields = header as Record<string, unknown>;
  if (!Object.keys(fields).every((name) => HEADER_PARAMETERS.has(name))) return null;
  const { alg, typ, kid } = fields;
  if (typeof alg !== 'string') return null;
  if (typ !== undefined && typ !== 'JWT') return null;
  if (kid !== undefined && (typeof kid !== 'string' || !KID_PATTERN.test(kid))) return null;
  return { alg, kid, input: token.slice(0, second), payloadPart, signature };
}
