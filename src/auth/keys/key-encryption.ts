import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Shortest key-encryption secret accepted, in bytes. */
export const MIN_KEY_ENCRYPTION_SECRET_BYTES = 32;
const FORMAT = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The stored private key cannot be decrypted: another key-encryption secret, or a damaged row. */
export class KeyDecryptionError extends Error {}

/**
 * Encrypts private keys (and HMAC secrets) for the signing_keys table: AES-256-GCM under a key
 * derived (HKDF-SHA256) from the key-encryption secret, a fresh IV per key, and the key's id and
 * algorithm as associated data, so that a ciphertext moved to another row does not decrypt.
 * Stored as `v1.<iv>.<tag>.<ciphertext>` (base64url).
 */
export class KeyEncryption {
  private readonly key: Buffer;

  /**
   * `purpose` separates the keys derived from one secret: what one use encrypts, another cannot
   * decrypt (signing keys, and the mails waiting in the outbox).
   */
  constructor(secret: string | Buffer, purpose = 'signing-key encryption') {
    const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (bytes.length < MIN_KEY_ENCRYPTION_SECRET_BYTES) {
      throw new Error(`keyEncryptionSecret must be at least ${MIN_KEY_ENCRYPTION_SECRET_BYTES} bytes`);
    }
    this.key = Buffer.from(hkdfSync('sha256', bytes, Buffer.alloc(0), `nest-jwt-revocation ${purpose} v1`, 32));
  }

  encrypt(plaintext: Buffer, kid: string, algorithm: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(kid, algorithm));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return [FORMAT, iv, cipher.getAuthTag(), ciphertext]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  decrypt(stored: string, kid: string, algorithm: string): Buffer {
    const [format, iv, tag, ciphertext, ...rest] = stored.split('.');
    if (format !== FORMAT || rest.length > 0 || !iv || !tag || !ciphertext) {
      throw new KeyDecryptionError(`Key ${kid}: unknown encrypted form`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(associatedData(kid, algorithm));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    } catch {
      throw new KeyDecryptionError(
        `Key ${kid}: its private key does not decrypt with this key-encryption secret (another secret, or a damaged row)`,
      );
    }
  }
}

function associatedData(kid: string, algorithm: string): Buffer {
  return Buffer.from(`${kid}\n${algorithm}`, 'utf8');
}
