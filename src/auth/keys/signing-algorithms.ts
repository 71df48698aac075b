/** The algorithms a key may have: plain data, loaded without the signing code (the CLI parses with it). */

/** HMAC algorithms: a shared secret (signs and verifies). */
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;
/** Asymmetric algorithms: a private key signs, its public key verifies (and is published). */
export const ASYMMETRIC_ALGORITHMS = ['EdDSA', 'ES256'] as const;
export const SIGNING_ALGORITHMS = [...HMAC_ALGORITHMS, ...ASYMMETRIC_ALGORITHMS] as const;

export type HmacAlgorithm = (typeof HMAC_ALGORITHMS)[number];
export type AsymmetricAlgorithm = (typeof ASYMMETRIC_ALGORITHMS)[number];
export type SigningAlgorithm = HmacAlgorithm | AsymmetricAlgorithm;

export const isSigningAlgorithm = (value: unknown): value is SigningAlgorithm =>
  (SIGNING_ALGORITHMS as readonly unknown[]).includes(value);
export const isAsymmetric = (algorithm: SigningAlgorithm): algorithm is AsymmetricAlgorithm =>
  (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm);

/** Shortest HMAC secret accepted, in bytes (the hash's output size for HS256). */
export const MIN_HMAC_SECRET_BYTES = 32;
