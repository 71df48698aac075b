import { createSecretKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { calculateJwkThumbprint, compactVerify, importJWK } from 'jose';
import jsonwebtoken from 'jsonwebtoken';
import { readCompactJws } from './jws.js';
import { KeyDecryptionError, KeyEncryption } from './key-encryption.js';
import { generateKey, keyFromSecretOption, keyFromStorage, SigningKey, type SigningAlgorithm } from './signing-key.js';

const claims = { sub: 'someone', n: 1 };

function usable(algorithm: SigningAlgorithm): SigningKey {
  const generated = generateKey(algorithm);
  return keyFromStorage(generated.kid, algorithm, generated.publicKeyPem, generated.secretMaterial, 0);
}

function check(key: SigningKey, token: string): unknown {
  const jws = readCompactJws(token);
  if (!jws) return 'unreadable';
  return key.verifiedPayload(token, jws.input, jws.signature, jws.payloadPart);
}

describe('SigningKey', () => {
  it.each(['HS256', 'HS384', 'HS512', 'EdDSA', 'ES256'] as const)(
    '%s: signs with alg, typ and kid in the header, and verifies only its own signatures',
    (algorithm) => {
      const key = usable(algorithm);
      const token = key.sign(claims);
      expect(readCompactJws(token)).toMatchObject({ alg: algorithm, kid: key.kid });
      expect(check(key, token)).toMatchObject(claims);
      expect(check(usable(algorithm), token)).toBeUndefined();
      // One character of the signature changed.
      const tampered = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
      expect(check(key, tampered)).toBeUndefined();
    },
  );

  it.each(['EdDSA', 'ES256'] as const)('%s: jose verifies it with the published JWK', async (algorithm) => {
    const key = usable(algorithm);
    const jwk = key.publicJwk();
    expect(jwk).toBeDefined();
    expect(jwk).not.toHaveProperty('d');
    expect(await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0])).toBe(key.kid);
    const { payload } = await compactVerify(key.sign(claims), await importJWK(jwk as never, algorithm));
    expect(JSON.parse(Buffer.from(payload).toString())).toEqual(claims);
  });

  it.each(['HS256', 'HS384', 'HS512'] as const)(
    '%s: signs the very token jsonwebtoken signs, and jsonwebtoken verifies it (third parties keep working)',
    (algorithm) => {
      const secret = Buffer.from(`a secret long enough for every HMAC here, ${algorithm}!!`.repeat(2));
      const key = keyFromStorage('kid-1', algorithm, null, secret, 0);
      const payload = { sub: 'someone', iat: 1_700_000_000, exp: 1_700_000_900, auth_time_ms: 1_699_999_999_123 };
      const token = key.sign(payload);
      expect(token).toBe(jsonwebtoken.sign(payload, secret, { algorithm, keyid: 'kid-1' }));
      expect(jsonwebtoken.verify(token, secret, { algorithms: [algorithm], ignoreExpiration: true })).toEqual(payload);
    },
  );

  it('accepts one encoding of a signature only: canonical base64url, and the low s of ECDSA', () => {
    for (const algorithm of ['EdDSA', 'ES256'] as const) {
      const key = usable(algorithm);
      const token = key.sign(claims);
      const signature = token.slice(token.lastIndexOf('.') + 1);
      // 64 bytes are 86 base64url characters with 4 bits unused: other last characters, same bytes.
      const variants = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_']
        .map((last) => signature.slice(0, -1) + last)
        .filter(
          (variant) =>
            variant !== signature && Buffer.from(variant, 'base64url').equals(Buffer.from(signature, 'base64url')),
        );
      expect(variants.length).toBeGreaterThan(0);
      for (const variant of variants) expect(check(key, token.slice(0, -signature.length) + variant)).toBeUndefined();
    }
    const es256 = usable('ES256');
    const order = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
    for (let round = 0; round < 20; round += 1) {
      const token = es256.sign({ round });
      const bytes = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
      const s = BigInt(`0x${bytes.subarray(32).toString('hex')}`);
      expect(s <= order >> 1n).toBe(true);
      // (r, n - s) verifies in ECDSA; here it is refused as a second form of the same token.
      const high = Buffer.concat([
        bytes.subarray(0, 32),
        Buffer.from((order - s).toString(16).padStart(64, '0'), 'hex'),
      ]);
      const forged = `${token.slice(0, token.lastIndexOf('.'))}.${high.toString('base64url')}`;
      expect(check(es256, forged)).toBeUndefined();
      expect(check(es256, token)).toMatchObject({ round });
    }
  });

  it('refuses key material that does not fit the algorithm: a public key is never an HMAC secret', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
    const secret = createSecretKey(Buffer.alloc(32, 1));
    expect(() => new SigningKey('k', 'HS256', publicKey, undefined, 0)).toThrow('does not fit HS256');
    expect(() => new SigningKey('k', 'EdDSA', secret, undefined, 0)).toThrow('does not fit EdDSA');
    expect(() => new SigningKey('k', 'ES256', publicKey, undefined, 0)).toThrow('does not fit ES256');
    expect(() => new SigningKey('k', 'ES256', p384, undefined, 0)).toThrow('ES256 needs a P-256 key');
    // A row whose public key is not its private key's is refused when it is built.
    const one = generateKey('EdDSA');
    const other = generateKey('EdDSA');
    expect(() => keyFromStorage(one.kid, 'EdDSA', other.publicKeyPem, one.secretMaterial, 0)).toThrow(
      'its public key is not its private key',
    );
  });

  it('publishes nothing of a secret, and cannot sign without a private key', () => {
    expect(usable('HS256').publicJwk()).toBeUndefined();
    const generated = generateKey('EdDSA');
    const verifyOnly = keyFromStorage(generated.kid, 'EdDSA', generated.publicKeyPem, undefined, 0);
    expect(verifyOnly.canSign).toBe(false);
    expect(() => verifyOnly.sign(claims)).toThrow('cannot sign');
    expect(check(verifyOnly, usable('EdDSA').sign(claims))).toBeUndefined();
  });

  it("derives the secret option's kid from the secret, the same everywhere", () => {
    const one = keyFromSecretOption('s'.repeat(32), 'HS256');
    expect(keyFromSecretOption(Buffer.from('s'.repeat(32)), 'HS256').kid).toBe(one.kid);
    expect(keyFromSecretOption('t'.repeat(32), 'HS256').kid).not.toBe(one.kid);
    expect(() => keyFromSecretOption('s'.repeat(31), 'HS256')).toThrow('at least 32 bytes');
  });
});

describe('readCompactJws', () => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const token = (header: unknown) => `${part(header)}.${part(claims)}.c2ln`;

  it('reads alg, typ and kid, and nothing else', () => {
    expect(readCompactJws(token({ alg: 'EdDSA', typ: 'JWT', kid: 'abc_-1' }))).toMatchObject({
      alg: 'EdDSA',
      kid: 'abc_-1',
    });
    expect(readCompactJws(token({ alg: 'HS256' }))).toMatchObject({ alg: 'HS256', kid: undefined });
    for (const header of [
      { alg: 'EdDSA', jku: 'https://evil.example/jwks' },
      { alg: 'EdDSA', x5u: 'https://evil.example/cert' },
      { alg: 'EdDSA', jwk: { kty: 'OKP' } },
      { alg: 'EdDSA', x5c: [] },
      { alg: 'EdDSA', crit: ['b64'], b64: false },
      { alg: 'EdDSA', typ: 'JOSE' },
      { alg: 7 },
      { kid: 'k' },
      { alg: 'EdDSA', kid: '' },
      { alg: 'EdDSA', kid: 'a/b' },
      { alg: 'EdDSA', kid: 'k'.repeat(65) },
      ['alg', 'EdDSA'],
      'EdDSA',
      null,
    ]) {
      expect(readCompactJws(token(header))).toBeNull();
    }
  });

  it('refuses anything that is not three base64url parts', () => {
    const good = token({ alg: 'EdDSA' });
    for (const bad of [
      good.split('.').slice(0, 2).join('.'),
      `${good}.x`,
      `.${good.split('.').slice(1).join('.')}`,
      good.replace('.c2ln', '.c2l+'),
      good.replace('.c2ln', '.'),
      `${'e'.repeat(600)}.${part(claims)}.c2ln`,
      `${Buffer.from('{not json').toString('base64url')}.${part(claims)}.c2ln`,
    ]) {
      expect(readCompactJws(bad)).toBeNull();
    }
  });
});

describe('KeyEncryption', () => {
  const encryption = new KeyEncryption('k'.repeat(32));
  const material = Buffer.from('private key bytes');

  it('round-trips, with a fresh IV each time', () => {
    const once = encryption.encrypt(material, 'kid1', 'EdDSA');
    const twice = encryption.encrypt(material, 'kid1', 'EdDSA');
    expect(once).not.toBe(twice);
    expect(once).toMatch(/^v1\./);
    expect(encryption.decrypt(once, 'kid1', 'EdDSA')).toEqual(material);
  });

  it('does not decrypt under another secret, in another row, or once altered', () => {
    const stored = encryption.encrypt(material, 'kid1', 'EdDSA');
    expect(() => new KeyEncryption('j'.repeat(32)).decrypt(stored, 'kid1', 'EdDSA')).toThrow(KeyDecryptionError);
    expect(() => encryption.decrypt(stored, 'kid2', 'EdDSA')).toThrow(KeyDecryptionError);
    expect(() => encryption.decrypt(stored, 'kid1', 'ES256')).toThrow(KeyDecryptionError);
    const [format, iv, tag, ciphertext] = stored.split('.');
    const flipped = Buffer.from(ciphertext, 'base64url');
    flipped[0] ^= 1;
    expect(() =>
      encryption.decrypt([format, iv, tag, flipped.toString('base64url')].join('.'), 'kid1', 'EdDSA'),
    ).toThrow(KeyDecryptionError);
    expect(() => encryption.decrypt('v2.a.b.c', 'kid1', 'EdDSA')).toThrow('unknown encrypted form');
  });

  it('refuses a key-encryption secret under 32 bytes', () => {
    expect(() => new KeyEncryption('short')).toThrow('at least 32 bytes');
  });
});
