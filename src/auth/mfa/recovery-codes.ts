import { randomInt } from 'node:crypto';

/** Crockford's base32: no i, l, o or u to misread. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** 10 characters, 50 bits: guessed online only (throttled like passwords), and kept as keyed hashes. */
const CODE_CHARS = 10;

/** A new recovery code, as shown: `xxxxx-xxxxx`. */
export function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < CODE_CHARS; i += 1) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/**
 * The code as it is hashed, whatever way it was typed (any case, with or without the hyphen and
 * spaces, i/l for 1 and o for 0 as Crockford reads them); null when it cannot be a recovery code.
 */
export function normalisedRecoveryCode(typed: string): string | null {
  const code = typed
    .toLowerCase()
    .replace(/[\s-]+/g, '')
    .replace(/[il]/g, '1')
    .replace(/o/g, '0');
  if (code.length !== CODE_CHARS) return null;
  for (const char of code) if (!ALPHABET.includes(char)) return null;
  return code;
}
