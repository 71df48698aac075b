import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { JwtService } from '@nestjs/jwt';

/**
 * HMAC tokens are checked by @nestjs/jwt (jsonwebtoken), as before keys had ids, and signed with
 * node:crypto directly: one HMAC over the header (encoded once per key) and the payload, the very
 * bytes jsonwebtoken wrote (same header fields in the same order), without its per-call option
 * merging and claim validation, which cost a login or a refresh more than the HMAC itself.
 * jsonwebtoken knows no EdDSA, so asymmetric tokens are signed and checked with node:crypto.
 * Either way the key is chosen by `kid` and pins the algorithm before any check.
 */
const hmacJwt = new JwtService();
const HMAC_HASHES: Record<HmacAlgorithm, string> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

import {
  isAsymmetric,
  MIN_HMAC_SECRET_BYTES,
  type HmacAlgorithm,
  type SigningAlgorithm,
} from './signing-algorithms.js';

export {
  ASYMMETRIC_ALGORITHMS,
  HMAC_ALGORITHMS,
  SIGNING_ALGORITHMS,
  isAsymmetric,
  isSigningAlgorithm,
  MIN_HMAC_SECRET_BYTES,
  type AsymmetricAlgorithm,
  type HmacAlgorithm,
  type SigningAlgorithm,
} from './signing-algorithms.js';

/** What a key id may look like: what this module writes, and nothing that needs escaping anywhere. */
export const KID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * One key of the ring, ready to use: its id, its pinned algorithm, the KeyObject that verifies
 * (the public key, or the secret), the one that signs when this instance may sign with it, and its
 * place in time. A token names its key by `kid`; the key decides the algorithm, never the token.
 */
export class SigningKey {
  /** `header.` of every token this key signs: base64url of `{"alg","typ","kid"}`, computed once. */
  private readonly encodedHeader: string;

  constructor(
    readonly kid: string,
    readonly algorithm: SigningAlgorithm,
    /** Public key (asymmetric) or secret (HMAC). */
    readonly verifyKey: KeyObject,
    /** Private key or secret; absent where this instance only verifies. */
    readonly signKey: KeyObject | undefined,
    /** From this instant (ms) the key may sign; before it, it only verifies (it is being published). */
    readonly activatesAt: number,
    /** Set for a key that came from the `secret` option rather than the signing_keys table. */
    readonly fromSecretOption = false,
  ) {
    this.encodedHeader = base64url(JSON.stringify({ alg: algorithm, typ: 'JWT', kid }));
    const expected = algorithm === 'EdDSA' ? 'ed25519' : algorithm === 'ES256' ? 'ec' : undefined;
    // The pairing of key and algorithm is checked once, here: a key can only ever be used the way its type allows.
    if (expected ? verifyKey.asymmetricKeyType !== expected : verifyKey.type !== 'secret') {
      throw new Error(`Key ${kid}: its key material does not fit ${algorithm}`);
    }
    if (algorithm === 'ES256' && verifyKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`Key ${kid}: ES256 needs a P-256 key`);
    }
  }

  get canSign(): boolean {
    return this.signKey !== undefined;
  }

  /** Signs a claim set (compact JWS, RFC 7515), with this key's algorithm and kid in the header. */
  sign(payload: object): string {
    if (!this.signKey) throw new Error(`Key ${this.kid} cannot sign on this instance`);
    const input = `${this.encodedHeader}.${base64url(JSON.stringify(payload))}`;
    if (!isAsymmetric(this.algorithm)) {
      return `${input}.${createHmac(HMAC_HASHES[this.algorithm], this.signKey).update(input).digest('base64url')}`;
    }
    return `${input}.${this.signature(input).toString('base64url')}`;
  }

  /**
   * The payload of `token` if this key signed it, else undefined. The caller has read the header
   * (only `alg`, `typ`, `kid`) and matched its `alg` to this key's. The payload is parsed only
   * once the signature is good.
   */
  verifiedPayload(token: string, input: string, signature: string, payloadPart: string): unknown {
    if (!isAsymmetric(this.algorithm)) {
      try {
        return hmacJwt.verify(token, {
          algorithms: [this.algorithm],
          publicKey: this.verifyKey as unknown as Buffer,
          // Expiry and the other claims are checked by TokenService, against the injected clock.
          ignoreExpiration: true,
          ignoreNotBefore: true,
        });
      } catch {
        return undefined;
      }
    }
    const bytes = Buffer.from(signature, 'base64url');
    // JWS carries ECDSA signatures as r || s (64 bytes), not DER; Ed25519's are 64 bytes too. One
    // encoding only: base64url with other unused trailing bits, or an ECDSA signature with the
    // high s, would be another string for the same token (refresh tokens are known by their hash).
    if (bytes.length !== 64 || bytes.toString('base64url') !== signature) return undefined;
    if (this.algorithm === 'ES256' && !isLowS(bytes)) return undefined;
    const data = Buffer.from(input);
    const good =
      this.algorithm === 'EdDSA'
        ? verify(null, data, this.verifyKey, bytes)
        : verify('sha256', data, { key: this.verifyKey, dsaEncoding: 'ieee-p1363' }, bytes);
    if (!good) return undefined;
    try {
      return JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8')) as unknown;
    } catch {
      return undefined;
    }
  }

  /** The public JWK (RFC 7517) of an asymmetric key; undefined for a secret, which is never published. */
  publicJwk(): JsonWebKey | undefined {
    if (!isAsymmetric(this.algorithm)) return undefined;
    return { ...this.verifyKey.export({ format: 'jwk' }), kid: this.kid, alg: this.algorithm, use: 'sig' };
  }

  private signature(input: string): Buffer {
    const key = this.signKey as KeyObject;
    return this.algorithm === 'EdDSA'
      ? sign(null, Buffer.from(input), key)
      : toLowS(sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }));
  }
}

/** New key material: a key pair, or a random HMAC secret as long as the hash. */
export interface GeneratedKey {
  kid: string;
  algorithm: SigningAlgorithm;
  /** SPKI PEM of the public key; null for HMAC. */
  publicKeyPem: string | null;
  /** PKCS#8 DER of the private key, or the raw HMAC secret: what gets encrypted at rest. */
  secretMaterial: Buffer;
}

export function generateKey(algorithm: SigningAlgorithm): GeneratedKey {
  if (!isAsymmetric(algorithm)) {
    const bytes = { HS256: 32, HS384: 48, HS512: 64 }[algorithm];
    // A random id: a secret's id must say nothing about the secret.
    return {
      kid: randomBytes(16).toString('base64url'),
      algorithm,
      publicKeyPem: null,
      secretMaterial: randomBytes(bytes),
    };
  }
  const { publicKey, privateKey } =
    algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid: thumbprint(publicKey),
    algorithm,
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    secretMaterial: privateKey.export({ format: 'der', type: 'pkcs8' }),
  };
}

/** Builds the usable key from what the table holds (`secretMaterial` decrypted, or absent to only verify). */
export function keyFromStorage(
  kid: string,
  algorithm: SigningAlgorithm,
  publicKeyPem: string | null,
  secretMaterial: Buffer | undefined,
  activatesAt: number,
): SigningKey {
  if (!isAsymmetric(algorithm)) {
    if (!secretMaterial) throw new Error(`Key ${kid} (${algorithm}) needs its secret to verify`);
    const secret = createSecretKey(secretMaterial);
    return new SigningKey(kid, algorithm, secret, secret, activatesAt);
  }
  if (!publicKeyPem) throw new Error(`Key ${kid} has no public key`);
  const publicKey = createPublicKey(publicKeyPem);
  const privateKey = secretMaterial
    ? createPrivateKey({ key: secretMaterial, format: 'der', type: 'pkcs8' })
    : undefined;
  const spki = (key: KeyObject) => key.export({ format: 'der', type: 'spki' });
  if (privateKey && !spki(createPublicKey(privateKey)).equals(spki(publicKey))) {
    throw new Error('its public key is not its private key’s');
  }
  return new SigningKey(kid, algorithm, publicKey, privateKey, activatesAt);
}

/** The key the `secret` option describes: always valid (-Infinity), until a table key supersedes it. */
export function keyFromSecretOption(secret: string | Buffer, algorithm: HmacAlgorithm): SigningKey {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (bytes.length < MIN_HMAC_SECRET_BYTES) {
    throw new Error(`Invalid AuthModule options: secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
  }
  // Derived by a keyed hash: the same secret gives the same id on every instance, and the id tells
  // nothing about the secret.
  const kid = `s-${createHmac('sha256', bytes).update('nest-jwt-revocation key id').digest('base64url').slice(0, 22)}`;
  const key = createSecretKey(bytes);
  return new SigningKey(kid, algorithm, key, key, Number.NEGATIVE_INFINITY, true);
}

/** Order of the P-256 group: an ECDSA signature (r, s) is as valid as (r, n - s). */
const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
const P256_HALF_ORDER = P256_ORDER >> 1n;

function sOf(signature: Buffer): bigint {
  return BigInt(`0x${signature.subarray(32).toString('hex')}`);
}

function isLowS(signature: Buffer): boolean {
  return sOf(signature) <= P256_HALF_ORDER;
}

/** The low-s form of an r || s signature: the one form this module writes and accepts. */
function toLowS(signature: Buffer): Buffer {
  const s = sOf(signature);
  if (s <= P256_HALF_ORDER) return signature;
  const low = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
  return Buffer.concat([signature.subarray(0, 32), low]);
}

/** RFC 7638 thumbprint of a public key: its id, the same wherever it is computed. */
export function thumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  // Required members only, in lexicographic order.
  const canonical =
    jwk.kty === 'EC'
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
      : JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
