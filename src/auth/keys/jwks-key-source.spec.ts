import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { JwksKeySource } from './jwks-key-source.js';
import { thumbprint } from './signing-key.js';

/** A real HTTP server answering with whatever the test sets: fetch runs for real. */
describe('JwksKeySource', () => {
  let server: Server;
  let answer: { status: number; headers?: Record<string, string>; body: string } = { status: 200, body: '{}' };
  let url: string;
  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const ed = generateKeyPairSync('ed25519').publicKey;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const jwk = (key: typeof ed, alg: string, extra: object = {}) => ({
    ...key.export({ format: 'jwk' }),
    kid: thumbprint(key),
    alg,
    use: 'sig',
    ...extra,
  });

  it('takes the signing keys it can use, and follows the cache lifetime', async () => {
    answer = {
      status: 200,
      headers: { 'cache-control': 'public, max-age=120' },
      body: JSON.stringify({
        keys: [
          jwk(ed, 'EdDSA'),
          jwk(ec, 'ES256'),
          jwk(ed, 'EdDSA', { kid: 'enc-key', use: 'enc' }),
          jwk(ed, 'EdDSA', { kid: 'wrap-key', key_ops: ['wrapKey'] }),
          jwk(ed, 'ES256', { kid: 'wrong-curve' }),
          jwk(ed, 'RS256', { kid: 'rsa' }),
          jwk(ed, 'EdDSA', { kid: 'has/slash' }),
          { kty: 'oct', k: 'c2VjcmV0', kid: 'secret', alg: 'HS256' },
          jwk(ed, 'EdDSA', { kid: 'private', d: 'AAAA' }),
        ],
      }),
    };
    const source = new JwksKeySource(url);
    const keys = await source.load();
    expect(keys.map((key) => [key.kid, key.algorithm])).toEqual([
      [thumbprint(ed), 'EdDSA'],
      [thumbprint(ec), 'ES256'],
    ]);
    expect(keys[0].publicKey).toContain('BEGIN PUBLIC KEY');
    expect(source.refreshIntervalMs).toBe(120_000);
  });

  it('refuses an answer that is not a key set, not a 200, or too large', async () => {
    const source = new JwksKeySource(url);
    answer = { status: 503, body: '{}' };
    await expect(source.load()).rejects.toThrow('answered 503');
    answer = { status: 200, body: '{"keys": 7}' };
    await expect(source.load()).rejects.toThrow('has no keys array');
    answer = { status: 200, body: `{"keys": [], "pad": "${'x'.repeat(300_000)}"}` };
    await expect(source.load()).rejects.toThrow('is larger than 262144 bytes');
  });

  it('never follows a redirect: the JWKS URL is the only place keys come from', async () => {
    // Where the redirect points: a real key set, whose requests are counted.
    let followed = 0;
    const elsewhere = createServer((_request, response) => {
      followed += 1;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [jwk(ed, 'EdDSA')] }));
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    try {
      const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/jwks.json`;
      const source = new JwksKeySource(url);
      for (const status of [301, 302, 307, 308]) {
        answer = { status, headers: { location: target }, body: '' };
        await expect(source.load()).rejects.toThrow();
      }
      expect(followed).toBe(0);
    } finally {
      await new Promise((resolve) => elsewhere.close(resolve));
    }
  });

  it('wants https, but on the machine itself', () => {
    expect(() => new JwksKeySource('http://auth.example.com/.well-known/jwks.json')).toThrow('must be an https URL');
    expect(() => new JwksKeySource('file:///etc/passwd')).toThrow('must be an https URL');
    expect(() => new JwksKeySource('https://auth.example.com/.well-known/jwks.json')).not.toThrow();
    expect(() => new JwksKeySource('http://localhost:3000/.well-known/jwks.json')).not.toThrow();
  });
});
