import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { StoredSigningKey } from './signing-key.repository.js';
import { ASYMMETRIC_ALGORITHMS, KID_PATTERN } from './signing-key.js';

/** Injection token of a source of public keys other than the signing_keys table. */
export const AUTH_KEY_SOURCE = Symbol('AUTH_KEY_SOURCE');

export interface KeySource {
  /** The keys, as rows: public keys only, each valid (a JWKS lists only keys that may verify). */
  load(): Promise<StoredSigningKey[]>;
  /** Milliseconds until the keys should be read again (the source's own cache lifetime). */
  readonly refreshIntervalMs: number;
}

const FETCH_TIMEOUT_MS = 5_000;
const MIN_REFRESH_MS = 30_000;
const MAX_REFRESH_MS = 3_600_000;
const DEFAULT_REFRESH_MS = 300_000;
const MAX_JWKS_BYTES = 256 * 1024;
const CURVE_OF: Record<string, string> = { EdDSA: 'Ed25519', ES256: 'P-256' };

/**
 * Public keys from the auth server's JWKS URL, for a verifier that does not read signing_keys.
 * Only asymmetric keys with an id, an `alg` this module signs with, and the curve that alg
 * needs are taken; anything else in the set is skipped. Read again when its `Cache-Control:
 * max-age` has passed, when signing_keys changes (the notification), and for an unknown kid.
 */
export class JwksKeySource implements KeySource {
  private readonly logger = new Logger(JwksKeySource.name);
  private interval = DEFAULT_REFRESH_MS;

  constructor(private readonly url: string) {
    const parsed = new URL(url);
    // Keys fetched in the clear could be replaced on the way: https, but for the machine itself.
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback)) {
      throw new Error('jwksUrl must be an https URL (http only on localhost)');
    }
  }

  get refreshIntervalMs(): number {
    return this.interval;
  }

  async load(): Promise<StoredSigningKey[]> {
    const response = await fetch(this.url, {
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      headers: { accept: 'application/jwk-set+json, application/json' },
      redirect: 'error',
    });
    if (response.status !== 200) throw new Error(`JWKS ${this.url} answered ${response.status}`);
    const text = await readLimited(response, MAX_JWKS_BYTES, this.url);
    const maxAge = /(?:^|,)\s*max-age=(\d+)/.exec(response.headers.get('cache-control') ?? '')?.[1];
    this.interval = maxAge
      ? Math.min(MAX_REFRESH_MS, Math.max(MIN_REFRESH_MS, Number(maxAge) * 1000))
      : DEFAULT_REFRESH_MS;
    const document = JSON.parse(text) as { keys?: unknown };
    if (!Array.isArray(document.keys)) throw new Error(`JWKS ${this.url} has no keys array`);
    const keys: StoredSigningKey[] = [];
    for (const entry of document.keys as JsonWebKey[]) {
      const key = this.toStored(entry);
      if (key) keys.push(key);
    }
    return keys;
  }

  private toStored(jwk: JsonWebKey): StoredSigningKey | undefined {
    const { kid, alg } = jwk as JsonWebKey & { kid?: unknown; alg?: unknown };
    if (typeof kid !== 'string' || !KID_PATTERN.test(kid)) return undefined;
    if (!(ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(alg) || jwk.crv !== CURVE_OF[alg as string])
      return undefined;
    // A key meant for something else than checking signatures is not taken for that.
    if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
    const operations = (jwk as JsonWebKey & { key_ops?: unknown }).key_ops;
    if (operations !== undefined && !(Array.isArray(operations) && operations.includes('verify'))) return undefined;
    if ('d' in jwk) {
      this.logger.warn(`JWKS key ${kid} carries a private part; ignored`);
      return undefined;
    }
    try {
      // The public members only, whatever else the entry carries.
      const members: JsonWebKey = {
        kty: jwk.kty,
        crv: jwk.crv,
        x: jwk.x,
        ...(jwk.y === undefined ? {} : { y: jwk.y }),
      };
      const publicKey = createPublicKey({ key: members, format: 'jwk' });
      return {
        kid,
        algorithm: alg as string,
        publicKey: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
        createdAt: new Date(0),
        activatesAt: new Date(0),
      };
    } catch {
      this.logger.warn(`JWKS key ${kid} is not a valid ${alg as string} public key; ignored`);
      return undefined;
    }
  }
}

/** The body as text, refusing (before or while reading) one larger than `limit` bytes. */
async function readLimited(response: Response, limit: number, url: string): Promise<string> {
  const tooLarge = () => new Error(`JWKS ${url} is larger than ${limit} bytes`);
  if (Number(response.headers.get('content-length') ?? 0) > limit) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  if (!reader) return '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
