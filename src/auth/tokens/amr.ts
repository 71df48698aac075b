/**
 * Authentication method references (RFC 8176) this module writes into tokens' `amr`, in the order
 * it writes them: `pwd` (password), `otp` (a code from an authenticator app, or a recovery code),
 * `hwk`/`swk` (a key: passkeys), `user` (user presence), `fed` (a federated sign-in), and `mfa`
 * once two kinds of factor were used. Tokens naming anything else are refused.
 */
export const AMR_VALUES = ['pwd', 'pin', 'kba', 'otp', 'sms', 'tel', 'hwk', 'swk', 'sc', 'user', 'fed', 'mfa'] as const;
export type AuthMethod = (typeof AMR_VALUES)[number];

const KNOWN = new Set<string>(AMR_VALUES);
/** Something the user knows. */
const KNOWLEDGE = new Set<string>(['pwd', 'pin', 'kba']);
/** Something the user has. */
const POSSESSION = new Set<string>(['otp', 'sms', 'tel', 'hwk', 'swk', 'sc']);

/** A key (passkeys, security keys), a device of its own beside an authenticator app's codes. */
const KEYS = new Set<string>(['hwk', 'swk', 'sc']);

/** A password sign-in, and what sessions opened before `amr` existed count as. */
export const PASSWORD_ONLY: readonly AuthMethod[] = Object.freeze(['pwd']);

/**
 * The `amr` of methods used together (a sign-in, or a sign-in and a later re-authentication in the
 * same session): each once, in the order above, with `mfa` when both something the user knows (or
 * a sign-in at another provider) and something the user has were shown, or two separate things the user has: a key (a passkey that
 * did not verify the user) and a code from an authenticator app. `mfa` given in is kept (a caller
 * that knows better, such as a user-verifying passkey).
 */
export function amrOf(methods: Iterable<string>): AuthMethod[] {
  const used = new Set<string>();
  for (const method of methods) if (KNOWN.has(method)) used.add(method);
  const values = [...used];
  // A federated sign-in is the provider's first factor (whatever it was), as a password is here.
  const knows = values.some((m) => KNOWLEDGE.has(m) || m === 'fed');
  const has = values.some((m) => POSSESSION.has(m));
  const keyAndCode = values.some((m) => KEYS.has(m)) && used.has('otp');
  if ((knows && has) || keyAndCode) used.add('mfa');
  return AMR_VALUES.filter((method) => used.has(method));
}

/** A well-formed `amr` claim: a short list of known methods, each once. */
export function isAmrClaim(value: unknown): value is AuthMethod[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > AMR_VALUES.length) return false;
  return value.every((m, i) => typeof m === 'string' && KNOWN.has(m) && value.indexOf(m) === i);
}

/** True when the methods include two kinds of factor (`mfa`). */
export function isMultiFactor(amr: readonly string[]): boolean {
  return amr.includes('mfa');
}
