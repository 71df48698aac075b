import { createHmac, generateKeyPairSync, type KeyObject, randomUUID, sign as cryptoSign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify, SignJWT } from 'jose';
import { KeyRotationService, PurgeService, RevocationSyncService, SigningKeys } from '../src/auth/index.js';
import { KeyEncryption } from '../src/auth/keys/key-encryption.js';
import { NotificationSigner } from '../src/auth/notifications/notification-signer.js';
import { encodeKeysChanged } from '../src/auth/revocation/revocation-events.js';
import { generateKey, keyFromStorage } from '../src/auth/keys/signing-key.js';
import { RevocationStateRepository } from '../src/auth/revocation/revocation-state.repository.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, holdNextCall } from './support/latch.js';
import {
  bearer,
  login,
  registerAndLogin,
  startApp,
  PASSWORD,
  statusOf,
  TEST_KEY_ENCRYPTION_SECRET,
  TEST_SECRET,
  type TestApp,
} from './support/test-app.js';
import { accessClaims, decode, sign } from './support/tokens.js';

/** "signing_keys changed", signed with the channel's key as the module sends it (an unsigned one is dropped). */
const signedKeysNotice = (app: TestApp) => app.app.get(NotificationSigner, { strict: false }).sign(encodeKeysChanged());

const header = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS with any header, signed by `signer` over `header.payload` (to forge what the module must refuse). */
function forge(
  head: Record<string, unknown>,
  claims: Record<string, unknown>,
  signer: (input: Buffer) => Buffer,
): string {
  const input = `${b64(head)}.${b64(claims)}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}
const hmacWith = (secret: Buffer | string) => (input: Buffer) => createHmac('sha256', secret).update(input).digest();
const ed25519With = (privateKey: KeyObject) => (input: Buffer) => cryptoSign(null, input, privateKey);

describe('signing keys', () => {
  const apps: TestApp[] = [];
  const databases: TestDatabase[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    for (const database of databases.splice(0)) await database.drop();
  });
  async function freshDatabase(): Promise<TestDatabase> {
    const database = await createTestDatabase();
    databases.push(database);
    return database;
  }
  async function start(url: string, algorithm: 'HS256' | 'EdDSA' | 'ES256', clock?: FakeClock): Promise<TestApp> {
    const app = await startApp(url, { config: { jwtAlgorithm: algorithm }, clock });
    apps.push(app);
    return app;
  }

  describe.each(['EdDSA', 'ES256'] as const)('%s', (algorithm) => {
    it('signs every token with a kid, publishes the public key, and jose verifies the token from the JWKS URL', async () => {
      const database = await freshDatabase();
      const app = await start(database.url, algorithm);
      const user = await registerAndLogin(app.http);
      const access = header(user.accessToken);
      expect(access).toEqual({ alg: algorithm, typ: 'JWT', kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      expect(header(user.refreshToken)).toEqual(access);

      const jwks = await app.http.get('/.well-known/jwks.json').expect(200);
      expect(jwks.headers['cache-control']).toBe('public, max-age=300');
      expect(jwks.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
      expect(jwks.body.keys).toHaveLength(1);
      const [jwk] = jwks.body.keys;
      expect(jwk).toMatchObject({ kid: access.kid, alg: algorithm, use: 'sig' });
      // Public members only.
      expect(Object.keys(jwk).sort()).toEqual(
        algorithm === 'EdDSA'
          ? ['alg', 'crv', 'kid', 'kty', 'use', 'x']
          : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
      );

      await app.app.listen(0, '127.0.0.1');
      const { port } = app.app.getHttpServer().address() as AddressInfo;
      const keySet = createRemoteJWKSet(new URL(`http://127.0.0.1:${port}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(user.accessToken, keySet, { algorithms: [algorithm] });
      expect(payload).toMatchObject({ sub: user.userId, sid: user.sessionId, typ: 'access' });
      expect(protectedHeader.kid).toBe(access.kid);

      // And the other way round: a token jose signs with the private key of the row (read back
      // here as an operator could) is one the module accepts; a different key's is not.
      const stranger =
        algorithm === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const foreign = await new SignJWT(decode(user.accessToken))
        .setProtectedHeader({ alg: algorithm, typ: 'JWT', kid: access.kid as string })
        .sign(stranger.privateKey);
      expect(await statusOf(app, foreign)).toBe(401);
    });
  });

  it('HS256 (the default): tokens carry the secret key id, and JWKS publishes nothing', async () => {
    const database = await freshDatabase();
    const app = await start(database.url, 'HS256');
    const user = await registerAndLogin(app.http);
    expect(header(user.accessToken)).toEqual({ alg: 'HS256', typ: 'JWT', kid: expect.stringMatching(/^s-/) });
    const jwks = await app.http.get('/.well-known/jwks.json').expect(200);
    expect(jwks.body).toEqual({ keys: [] });
    const rows = await app.dataSource.query('SELECT count(*)::int AS n FROM signing_keys');
    expect(rows[0].n).toBe(0);
  });

  describe('key confusion', () => {
    let database: TestDatabase;
    let app: TestApp;
    let kid: string;
    let claims: Record<string, unknown>;
    let publicPem: string;
    let jwkX: Buffer;
    beforeAll(async () => {
      database = await createTestDatabase();
      app = await startApp(database.url, { config: { jwtAlgorithm: 'EdDSA' } });
      const user = await registerAndLogin(app.http);
      kid = header(user.accessToken).kid as string;
      claims = accessClaims({ sub: user.userId, sid: user.sessionId }, app.clock.now().getTime());
      [{ public_key: publicPem }] = await app.dataSource.query('SELECT public_key FROM signing_keys');
      const [jwk] = (await app.http.get('/.well-known/jwks.json')).body.keys;
      jwkX = Buffer.from(jwk.x, 'base64url');
      // The genuine article, for contrast: the same claims signed as the module signs them.
      expect(await statusOf(app, app.app.get(SigningKeys).signingKey().sign(claims))).toBe(200);
    });
    afterAll(async () => {
      await app.close();
      await database.drop();
    });

    const refused = async (token: string) => {
      const response = await app.http.get('/profile').set(...bearer(token));
      return [response.status, response.body.message];
    };
    const INVALID = [401, 'Invalid token'];

    it('refuses HS256 signed with the public key as the HMAC secret (PEM text, or the raw key bytes)', async () => {
      expect(await refused(forge({ alg: 'HS256', typ: 'JWT', kid }, claims, hmacWith(publicPem)))).toEqual(INVALID);
      expect(await refused(forge({ alg: 'HS256', typ: 'JWT', kid }, claims, hmacWith(jwkX)))).toEqual(INVALID);
      // Without a kid, only the secret's key would be tried: still not the public key.
      expect(await refused(forge({ alg: 'HS256', typ: 'JWT' }, claims, hmacWith(publicPem)))).toEqual(INVALID);
    });

    it('refuses alg none, with or without a signature', async () => {
      expect(await refused(`${b64({ alg: 'none', typ: 'JWT', kid })}.${b64(claims)}.`)).toEqual(INVALID);
      expect(await refused(`${b64({ alg: 'none', kid })}.${b64(claims)}.c2ln`)).toEqual(INVALID);
    });

    it('refuses a token that brings its own key (jwk, x5c) even when it is signed by that key', async () => {
      const attacker = generateKeyPairSync('ed25519');
      const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
      for (const head of [
        { alg: 'EdDSA', typ: 'JWT', kid, jwk: attackerJwk },
        { alg: 'EdDSA', typ: 'JWT', jwk: attackerJwk },
        { alg: 'EdDSA', typ: 'JWT', kid, x5c: ['MIIB'] },
      ]) {
        expect(await refused(forge(head, claims, ed25519With(attacker.privateKey)))).toEqual(INVALID);
      }
    });

    it('never follows jku or x5u: the URL is not fetched and the token is refused', async () => {
      const attacker = generateKeyPairSync('ed25519');
      let fetched = 0;
      const server: Server = createServer((_request, response) => {
        fetched += 1;
        response.setHeader('Content-Type', 'application/json');
        response.end(JSON.stringify({ keys: [{ ...attacker.publicKey.export({ format: 'jwk' }), kid: 'evil' }] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
      try {
        for (const head of [
          { alg: 'EdDSA', typ: 'JWT', kid: 'evil', jku: url },
          { alg: 'EdDSA', typ: 'JWT', kid, jku: url },
          { alg: 'EdDSA', typ: 'JWT', kid: 'evil', x5u: url },
        ]) {
          expect(await refused(forge(head, claims, ed25519With(attacker.privateKey)))).toEqual(INVALID);
        }
        expect(fetched).toBe(0);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('refuses an unknown kid, a kid that is not a string, and an algorithm that is not the key’s', async () => {
      const attacker = generateKeyPairSync('ed25519');
      const secretKid = `s-${createHmac('sha256', TEST_SECRET).update('nest-jwt-revocation key id').digest('base64url').slice(0, 22)}`;
      for (const head of [
        { alg: 'EdDSA', typ: 'JWT', kid: 'A'.repeat(43) },
        { alg: 'EdDSA', typ: 'JWT', kid: 7 },
        { alg: 'EdDSA', typ: 'JWT', kid: [kid] },
        { alg: 'EdDSA', typ: 'JWT', kid: '../../etc/passwd' },
        // The secret's kid with an asymmetric algorithm, the key pair's kid with another curve's algorithm.
        { alg: 'EdDSA', typ: 'JWT', kid: secretKid },
        { alg: 'ES256', typ: 'JWT', kid },
        { alg: 'EdDSA', typ: 'JWT', kid, crit: ['exp'] },
        { alg: 'EdDSA', typ: 'at+jwt', kid },
      ]) {
        expect(await refused(forge(head, claims, ed25519With(attacker.privateKey)))).toEqual(INVALID);
      }
      // The secret's key is still a key (HS256 with its kid, or with none: tokens from before key ids).
      expect(
        await statusOf(app, forge({ alg: 'HS256', typ: 'JWT', kid: secretKid }, claims, hmacWith(TEST_SECRET))),
      ).toBe(200);
      expect(await statusOf(app, sign(claims))).toBe(200);
      // ...but only with its own algorithm.
      expect(await refused(sign(claims, TEST_SECRET, 'HS512'))).toEqual(INVALID);
    });

    it('pins the algorithm to the key: a genuine signature by a key the server holds, under another alg, is refused', async () => {
      const held = app.app.get(SigningKeys).signingKey();
      const bySigningKey = (input: Buffer) => cryptoSign(null, input, held.signKey as KeyObject);
      // The control: the server's own EdDSA key, its own alg.
      expect(await statusOf(app, forge({ alg: 'EdDSA', typ: 'JWT', kid }, claims, bySigningKey))).toBe(200);
      // The same key and signature, the header saying ES256: only the pin tells them apart.
      expect(await refused(forge({ alg: 'ES256', typ: 'JWT', kid }, claims, bySigningKey))).toEqual(INVALID);
      // The secret option's key (the server's own secret), with HMAC-SHA512 and HS512 in the header.
      const secretKid = app.app.get(SigningKeys).timeline([])[0].kid;
      const hmac512 = (input: Buffer) => createHmac('sha512', TEST_SECRET).update(input).digest();
      expect(await refused(forge({ alg: 'HS512', typ: 'JWT', kid: secretKid }, claims, hmac512))).toEqual(INVALID);
      expect(
        await statusOf(app, forge({ alg: 'HS256', typ: 'JWT', kid: secretKid }, claims, hmacWith(TEST_SECRET))),
      ).toBe(200);
    });

    it('refuses the same forgeries as refresh tokens', async () => {
      const refreshClaims = { ...claims, typ: 'refresh', jti: randomUUID() };
      for (const token of [
        forge({ alg: 'HS256', typ: 'JWT', kid }, refreshClaims, hmacWith(publicPem)),
        `${b64({ alg: 'none', kid })}.${b64(refreshClaims)}.`,
      ]) {
        const response = await app.http.post('/auth/refresh').send({ refreshToken: token });
        expect([response.status, response.body.message]).toEqual(INVALID);
      }
    });
  });

  it('keeps private keys encrypted at rest, and refuses to start with another key-encryption secret', async () => {
    const database = await freshDatabase();
    const app = await start(database.url, 'EdDSA');
    const [row] = (await app.dataSource.query('SELECT private_key_encrypted, public_key FROM signing_keys')) as Array<{
      private_key_encrypted: string;
      public_key: string;
    }>;
    expect(row.private_key_encrypted).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(row.private_key_encrypted).not.toContain('MC4CAQAwBQYDK2Vw'); // PKCS#8 Ed25519 prefix, base64
    expect(row.public_key).toContain('BEGIN PUBLIC KEY');
    await expect(
      startApp(database.url, {
        config: { jwtAlgorithm: 'EdDSA', keyEncryptionSecret: 'another-secret-of-at-least-32-bytes!!' },
      }),
    ).rejects.toThrow(/does not decrypt with this key-encryption secret/);
  });

  it('never trusts a public key swapped in the table: its tokens are refused, and nothing signs (503) until it is put back', async () => {
    const database = await freshDatabase();
    const app = await start(database.url, 'EdDSA');
    const user = await registerAndLogin(app.http);
    const [{ kid, public_key: genuine }] = (await app.dataSource.query(
      'SELECT kid, public_key FROM signing_keys',
    )) as Array<{
      kid: string;
      public_key: string;
    }>;
    const attacker = generateKeyPairSync('ed25519');
    const attackerPem = attacker.publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const claims = accessClaims({ sub: user.userId, sid: user.sessionId }, app.clock.now().getTime());
    const forged = forge({ alg: 'EdDSA', typ: 'JWT', kid }, claims, ed25519With(attacker.privateKey));
    const loads = app.app.get(SigningKeys).loads;
    // Whoever can write the table (without the key-encryption secret) swaps the public key in.
    await app.dataSource.query(`UPDATE signing_keys SET public_key = $1`, [attackerPem]);
    await app.dataSource.query(`SELECT pg_notify('auth_revocations', $1)`, [signedKeysNotice(app)]);
    await eventually(() => app.app.get(SigningKeys).loads > loads);
    expect(await statusOf(app, forged)).toBe(401);
    expect((await app.http.get('/.well-known/jwks.json')).body.keys).toEqual([]);
    const refused = await app.http.post('/auth/login').send({ email: user.email, password: PASSWORD });
    expect([refused.status, refused.body.message]).toEqual([
      503,
      'Authentication is temporarily unavailable; retry shortly',
    ]);

    await app.dataSource.query(`UPDATE signing_keys SET public_key = $1`, [genuine]);
    await app.dataSource.query(`SELECT pg_notify('auth_revocations', $1)`, [signedKeysNotice(app)]);
    await eventually(
      async () => (await app.http.post('/auth/login').send({ email: user.email, password: PASSWORD })).status === 200,
    );
    expect(await statusOf(app, forged)).toBe(401);
  });

  it('a key past its verification window verifies nothing, even before anything retires it', async () => {
    const database = await freshDatabase();
    const clock = new FakeClock();
    const app = await start(database.url, 'EdDSA', clock);
    const user = await registerAndLogin(app.http);
    const first = app.app.get(SigningKeys).signingKey();
    const rotated = await app.app.get(KeyRotationService).rotate();
    clock.advance(600);
    const end = (await app.app.get(KeyRotationService).list()).find((key) => key.kid === first.kid)?.verifyUntil;
    expect(end?.getTime()).toBe(rotated.activatesAt.getTime() + (1_209_600 + 5) * 1000);
    // A token the first key signs (as a token it signed before the rotation would be), checked now.
    const signedByFirst = () =>
      first.sign(accessClaims({ sub: user.userId, sid: user.sessionId }, clock.now().getTime()));
    clock.set(new Date((end as Date).getTime() - 1));
    expect(await statusOf(app, signedByFirst())).toBe(200);
    clock.set(end as Date);
    const late = await app.http.get('/profile').set(...bearer(signedByFirst()));
    expect([late.status, late.body.message]).toEqual([401, 'Invalid token']);
    expect((await app.http.get('/.well-known/jwks.json')).body.keys.map((key: { kid: string }) => key.kid)).toEqual([
      rotated.kid,
    ]);
    // Still in the table (nothing retired it), and the new key verifies.
    expect(app.app.get(SigningKeys).knows(first.kid)).toBe(true);
    expect(await statusOf(app, (await login(app.http, user.email)).accessToken)).toBe(200);
  });

  it('two instances starting at once on an empty table create one first key between them', async () => {
    const database = await freshDatabase();
    const clock = new FakeClock();
    const [a, b] = await Promise.all([start(database.url, 'EdDSA', clock), start(database.url, 'EdDSA', clock)]);
    const rows = await a.dataSource.query('SELECT kid FROM signing_keys');
    expect(rows).toHaveLength(1);
    const fromA = await registerAndLogin(a.http);
    const fromB = await registerAndLogin(b.http);
    expect(header(fromA.accessToken).kid).toBe(rows[0].kid);
    expect(header(fromB.accessToken).kid).toBe(rows[0].kid);
  });

  it('an instance that may have missed a key reads the keys again before refusing its kid (fail closed)', async () => {
    const database = await freshDatabase();
    const app = await start(database.url, 'EdDSA');
    const user = await registerAndLogin(app.http);
    // A key that reached the table without its notification, as one lost with the listener would.
    const generated = generateKey('EdDSA');
    await app.dataSource.query(
      `INSERT INTO signing_keys (kid, algorithm, public_key, private_key_encrypted, activates_at)
       VALUES ($1, 'EdDSA', $2, $3, now())`,
      [
        generated.kid,
        generated.publicKeyPem,
        new KeyEncryption(TEST_KEY_ENCRYPTION_SECRET).encrypt(generated.secretMaterial, generated.kid, 'EdDSA'),
      ],
    );
    const key = keyFromStorage(generated.kid, 'EdDSA', generated.publicKeyPem, generated.secretMaterial, 0);
    const token = key.sign(accessClaims({ sub: user.userId, sid: user.sessionId }, app.clock.now().getTime()));
    // Live, the instance's keys are complete (every change is notified): an unknown kid is refused.
    expect(await statusOf(app, token)).toBe(401);

    // The listener lost, its reconnection held at the load: memory may miss anything now.
    const { latch: held, restore } = holdNextCall(
      app.app.get(RevocationStateRepository, { strict: false }),
      'loadActive',
    );
    try {
      const sync = app.app.get(RevocationSyncService);
      await app.dataSource.query('SELECT pg_terminate_backend($1)', [sync.listenerBackendPid]);
      await held.reached;
      expect(sync.status).toBe('degraded');
      // So the unknown kid sends the instance to the table first: there it is.
      expect(await statusOf(app, token)).toBe(200);
      // A kid that is nowhere is still refused (and the table is read at most once a second for such).
      expect(
        await statusOf(
          app,
          forge({ alg: 'EdDSA', typ: 'JWT', kid: 'B'.repeat(43) }, decode(token), () => Buffer.alloc(64)),
        ),
      ).toBe(401);
    } finally {
      held.release();
      restore();
    }
  });

  describe('rotation across two instances, with the injected clock', () => {
    it('publishes the new key everywhere before it signs, keeps the old one until its last token expires, then retires it', async () => {
      const database = await freshDatabase();
      const clock = new FakeClock();
      const a = await start(database.url, 'EdDSA', clock);
      const b = await start(database.url, 'EdDSA', clock);
      const jwksKids = async (app: TestApp) =>
        ((await app.http.get('/.well-known/jwks.json')).body.keys as Array<{ kid: string }>)
          .map((key) => key.kid)
          .sort();

      // Before: a token signed with the first key.
      const before = await registerAndLogin(a.http);
      const first = header(before.accessToken).kid as string;

      const rotated = await a.app.get(KeyRotationService).rotate();
      expect(rotated.activatesAt.getTime()).toBe(clock.now().getTime() + 600_000);
      // B learns it from the notification, long before it signs.
      await eventually(() => b.app.get(SigningKeys).knows(rotated.kid));
      expect(await jwksKids(b)).toEqual([first, rotated.kid].sort());
      expect((await b.app.get(KeyRotationService).list()).map((key) => [key.kid, key.state])).toEqual([
        [expect.stringMatching(/^s-/), 'previous'],
        [first, 'current'],
        [rotated.kid, 'next'],
      ]);

      // During the publication: both still sign with the first key; a second rotation is refused.
      clock.advance(599);
      const during = await login(b.http, before.email);
      expect(header(during.accessToken).kid).toBe(first);
      await expect(b.app.get(KeyRotationService).rotate()).rejects.toThrow(/already waiting to sign/);

      // After: every instance signs with the new key, and verifies tokens of both.
      clock.advance(1);
      const after = await login(b.http, before.email);
      expect(header(after.accessToken).kid).toBe(rotated.kid);
      for (const app of [a, b]) {
        for (const token of [before.accessToken, during.accessToken, after.accessToken]) {
          expect(await statusOf(app, token)).toBe(200);
        }
      }
      // A refresh token signed with the first key rotates into tokens signed with the new one.
      const refreshed = await a.http.post('/auth/refresh').send({ refreshToken: during.refreshToken }).expect(200);
      expect(header(refreshed.body.accessToken).kid).toBe(rotated.kid);

      // The first key verifies as long as a refresh token it signed may live.
      const timeline = await a.app.get(KeyRotationService).list();
      const firstEntry = timeline.find((key) => key.kid === first);
      expect(firstEntry).toMatchObject({ state: 'previous' });
      expect(firstEntry?.verifyUntil?.getTime()).toBe(rotated.activatesAt.getTime() + (1_209_600 + 5) * 1000);
      expect(await a.app.get(KeyRotationService).retire()).toEqual([]);
      clock.set(new Date((firstEntry?.verifyUntil?.getTime() ?? 0) - 1_000));
      expect(await a.app.get(KeyRotationService).retire()).toEqual([]);

      // Then the purge job retires it (and the secret's key, configured, drops out of use too).
      clock.advance(1);
      const purged = await b.app.get(PurgeService).purgeExpired();
      expect(purged.signingKeys).toBe(1);
      await eventually(() => !a.app.get(SigningKeys).knows(first));
      for (const app of [a, b]) expect(await jwksKids(app)).toEqual([rotated.kid]);
      const still = await login(a.http, before.email);
      expect(await statusOf(b, still.accessToken)).toBe(200);
      expect(header(still.accessToken).kid).toBe(rotated.kid);
    });

    it('switches a running HS256 deployment to EdDSA by a rotation, logging no one out', async () => {
      const database = await freshDatabase();
      const clock = new FakeClock();
      const a = await start(database.url, 'HS256', clock);
      const b = await start(database.url, 'HS256', clock);
      const before = await registerAndLogin(a.http);
      expect(header(before.accessToken).alg).toBe('HS256');

      const rotated = await a.app.get(KeyRotationService).rotate('EdDSA');
      await eventually(() => b.app.get(SigningKeys).knows(rotated.kid));
      clock.advance(600);
      const after = await login(b.http, before.email);
      expect(header(after.accessToken)).toMatchObject({ alg: 'EdDSA', kid: rotated.kid });
      for (const app of [a, b]) {
        expect(await statusOf(app, before.accessToken)).toBe(200);
        expect(await statusOf(app, after.accessToken)).toBe(200);
        expect((await app.http.get('/.well-known/jwks.json')).body.keys.map((key: { kid: string }) => key.kid)).toEqual(
          [rotated.kid],
        );
      }
      await a.http.post('/auth/refresh').send({ refreshToken: before.refreshToken }).expect(200);
    });
  });
});
