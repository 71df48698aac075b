import { createHash, randomInt } from 'node:crypto';

/** Crockford's base32: no i, l, o or u to misread. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/**
 * 16 characters, 80 bits: online, guesses are throttled like passwords; offline, a copy of the
 * table is no help either (2^80 hashes per code), so a plain SHA-256 keeps them, with no secret
 * that a change of keyEncryptionSecret would void.
 */
const CODE_CHARS = 16;

/** A new recovery code, as shown: `xxxx-xxxx-xxxx-xxxx`. */
export function newRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < CODE_CHARS; i += 1) code += ALPHABET[randomInt(ALPHABET.length)];
  return code.match(/.{4}/g)!.join('-');
}

/** What the database keeps of a (normalised) recovery code: SHA-256 of the user's id and the code. */
export function recoveryCodeHash(userId: string, normalisedCode: string): string {
  return createHash('sha256').update(`${userId}\n${normalisedCode}`, 'utf8').digest('hex');
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
