import { afterEach, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { operatorModule } from '../src/auth/cli/operator.module.js';
import { KeyRotationService, RevocationSyncService, SigningKeys } from '../src/auth/index.js';
import { NotificationListener } from '../src/auth/notifications/notification-listener.service.js';
import { NotificationRepository } from '../src/auth/notifications/notification.repository.js';
import { encodeKeysChanged } from '../src/auth/revocation/revocation-events.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { codeAt, enableTotp, passwordStep } from './support/mfa.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, holdNextCall } from './support/latch.js';
import {
  login,
  registerAndLogin,
  startApp,
  statusOf,
  TEST_KEY_ENCRYPTION_SECRET,
  TEST_SECRET,
  type TestApp,
} from './support/test-app.js';
import { accessClaims } from './support/tokens.js';

const header = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()) as Record<string, unknown>;

/**
 * `keys revoke <kid>`: a leaked signing key dies in one command, on every instance, for every token
 * it signed (tokens an instance has already verified and remembers, and refresh tokens too).
 * Revocations go through the operator CLI's own module (in process: the code `npx
 * nest-jwt-revocation keys revoke` runs), beside two instances of the app on one database.
 */
describe('keys revoke: a leaked signing key dies at once, everywhere', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  async function database(): Promise<TestDatabase> {
    const created = await createTestDatabase();
    closers.push(() => created.drop());
    return created;
  }
  async function start(url: string, clock: FakeClock, keyEncryptionSecret?: string): Promise<TestApp> {
    const app = await startApp(url, {
      clock,
      config: { jwtAlgorithm: 'EdDSA', ...(keyEncryptionSecret ? { keyEncryptionSecret } : {}) },
    });
    closers.push(() => app.close());
    return app;
  }
  async function operator(url: string, keyEncryptionSecret = TEST_KEY_ENCRYPTION_SECRET) {
    const context: INestApplicationContext = await NestFactory.createApplicationContext(
      operatorModule({ databaseUrl: url, secret: TEST_SECRET, keyEncryptionSecret }),
      { logger: false },
    );
    closers.push(() => context.close());
    return context.get(KeyRotationService);
  }
  const refreshStatus = async (app: TestApp, refreshToken: string) =>
    (await app.http.post('/auth/refresh').send({ refreshToken })).status;
  const jwksKids = async (app: TestApp) =>
    ((await app.http.get('/.well-known/jwks.json')).body.keys as Array<{ kid: string }>).map((key) => key.kid);

  it('two instances refuse, within a second, a token they already verified and a refresh token of the key; JWKS drops it; a new key signs at once', async () => {
    const { url } = await database();
    const clock = new FakeClock();
    const a = await start(url, clock);
    const b = await start(url, clock);
    const user = await registerAndLogin(a.http);
    const leaked = header(user.accessToken).kid as string;
    const leakedKey = a.app.get(SigningKeys).signingKey();
    // Verified once on each instance: from now on the guard knows the token (its fast path).
    for (const app of [a, b]) {
      expect(await statusOf(app, user.accessToken)).toBe(200);
      expect(await statusOf(app, user.accessToken)).toBe(200);
    }
    const spare = await login(b.http, user.email);

    const revoked = await (await operator(url)).revoke(leaked);
    const revokedAt = Date.now();
    expect(revoked).toMatchObject({ kid: leaked, changed: true, replacement: { algorithm: 'EdDSA' } });
    const replacement = revoked.replacement?.kid as string;
    expect(replacement).not.toBe(leaked);

    const waited: number[] = [];
    for (const app of [a, b]) {
      waited.push(await eventually(async () => (await statusOf(app, user.accessToken)) === 401, 1_000));
    }
    // Both within a second of the command's return (measured: a few milliseconds).
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    for (const app of [a, b]) {
      expect((await app.http.get('/profile').set('Authorization', `Bearer ${spare.accessToken}`)).body).toMatchObject({
        statusCode: 401,
        message: 'Invalid token',
      });
      expect(await refreshStatus(app, spare.refreshToken)).toBe(401);
      // A token forged now with the leaked private key, whatever it claims.
      expect(
        await statusOf(
          app,
          leakedKey.sign(accessClaims({ sub: user.userId, sid: user.sessionId }, clock.now().getTime())),
        ),
      ).toBe(401);
      expect(await jwksKids(app)).toEqual([replacement]);
    }
    // The issuer keeps issuing: the next login, on either instance, signs with the new key.
    for (const app of [a, b]) {
      const fresh = await login(app.http, user.email);
      expect(header(fresh.accessToken).kid).toBe(replacement);
      expect(await statusOf(a, fresh.accessToken)).toBe(200);
      expect(await statusOf(b, fresh.accessToken)).toBe(200);
      await app.http.post('/auth/refresh').send({ refreshToken: fresh.refreshToken }).expect(200);
    }
    expect(
      (await a.app.get(KeyRotationService).list()).map((key) => [key.kid, key.state, key.revokedAt !== null]),
    ).toEqual([
      [expect.stringMatching(/^s-/), 'previous', false],
      [leaked, 'revoked', true],
      [replacement, 'current', false],
    ]);
    process.stdout.write(`keys revoke: refused on both instances after ${waited.join(' and ')} ms\n`);
  });

  it('stays revoked: across a restart, a second revoke, a rotation and retirement; revoking an older key makes no new one', async () => {
    const { url } = await database();
    const clock = new FakeClock();
    const a = await start(url, clock);
    const old = await registerAndLogin(a.http);
    const first = header(old.accessToken).kid as string;
    const rotation = a.app.get(KeyRotationService);
    const rotated = await rotation.rotate();
    clock.advance(600);
    const current = await login(a.http, old.email);
    expect(header(current.accessToken).kid).toBe(rotated.kid);
    expect(await statusOf(a, old.accessToken)).toBe(200);

    // An older key: nothing replaces it, the current key signs on.
    // (The host app's own service, on the app's clock.)
    expect(await rotation.revoke(first)).toMatchObject({ changed: true, replacement: null });
    await eventually(async () => (await statusOf(a, old.accessToken)) === 401);
    expect(await statusOf(a, current.accessToken)).toBe(200);
    expect(header((await login(a.http, old.email)).accessToken).kid).toBe(rotated.kid);
    // Again: nothing changes, and it says so.
    expect(await rotation.revoke(first)).toMatchObject({ changed: false, replacement: null });
    // A new instance (or a restart) reads it revoked.
    const c = await start(url, clock);
    expect(await statusOf(c, old.accessToken)).toBe(401);
    expect(await refreshStatus(c, old.refreshToken)).toBe(401);
    expect(await statusOf(c, current.accessToken)).toBe(200);
    // A rotation is not blocked by it, nor does anything bring it back.
    const next = await rotation.rotate();
    clock.advance(600);
    expect(header((await login(c.http, old.email)).accessToken).kid).toBe(next.kid);
    expect(await statusOf(c, old.accessToken)).toBe(401);
    // Listed until no token it signed could be live any more, then retired like any other.
    expect(await rotation.retire()).toEqual([]);
    clock.advance(1_209_600 + 5);
    expect(await rotation.retire()).toContain(first);
    expect(await statusOf(c, old.accessToken)).toBe(401);
  });

  it('refuses an unknown kid and the secret option’s key, changing nothing', async () => {
    const { url } = await database();
    const clock = new FakeClock();
    const a = await start(url, clock);
    const rotation = await operator(url);
    await expect(rotation.revoke('B'.repeat(43))).rejects.toThrow(`No signing key ${'B'.repeat(43)}`);
    const secretKid = (await rotation.list())[0].kid;
    await expect(rotation.revoke(secretKid)).rejects.toThrow(/is the secret option's \(JWT_SECRET\)/);
    const rows = await a.dataSource.query('SELECT kid FROM signing_keys WHERE revoked_at IS NOT NULL');
    expect(rows).toEqual([]);
  });

  it('with the notification missed (listener down), the instance still refuses the key within a second', async () => {
    const { url } = await database();
    const clock = new FakeClock();
    const a = await start(url, clock);
    const b = await start(url, clock);
    const user = await registerAndLogin(a.http);
    expect(await statusOf(b, user.accessToken)).toBe(200);
    const sync = b.app.get(RevocationSyncService);
    // B's listener lost, and its reconnection held before it connects: B hears nothing until released.
    const listener = b.app.get(NotificationListener) as unknown as { connectAndResync(): Promise<void> };
    const { latch: held, restore } = holdNextCall(listener, 'connectAndResync');
    try {
      await a.dataSource.query('SELECT pg_terminate_backend($1)', [sync.listenerBackendPid]);
      await held.reached;
      expect(sync.status).toBe('degraded');
      await (await operator(url)).revoke(header(user.accessToken).kid as string);
      const took = await eventually(async () => (await statusOf(b, user.accessToken)) === 401, 1_500);
      process.stdout.write(`keys revoke, listener down: refused after ${took} ms\n`);
      // Logins go on, with the new key.
      const fresh = await login(b.http, user.email);
      expect(await statusOf(b, fresh.accessToken)).toBe(200);
    } finally {
      held.release();
      restore();
    }
    await eventually(() => sync.status === 'live', 5_000);
    expect(await statusOf(b, user.accessToken)).toBe(401);
  });

  it('a key reload that fails is not swallowed: the instance stops trusting its keys until it has read them again', async () => {
    const { url } = await database();
    const clock = new FakeClock();
    const a = await start(url, clock);
    const user = await registerAndLogin(a.http);
    expect(await statusOf(a, user.accessToken)).toBe(200);
    const sync = a.app.get(RevocationSyncService);
    // The key is revoked by hand, and the table is out of reach when the instance tries to read it.
    await a.dataSource.query('UPDATE signing_keys SET revoked_at = now()');
    await a.dataSource.query('ALTER TABLE signing_keys RENAME TO signing_keys_away');
    try {
      // The notice as the module sends it (signed, where the channel is authenticated).
      await a.app.get(NotificationRepository).notifyThroughPool(encodeKeysChanged());
      await eventually(() => sync.status !== 'live');
      // Nothing from the stale key ring: not the token it verified before, not a 200.
      expect(await statusOf(a, user.accessToken)).toBe(503);
    } finally {
      await a.dataSource.query('ALTER TABLE signing_keys_away RENAME TO signing_keys');
    }
    await eventually(() => sync.status === 'live', 5_000);
    expect(await statusOf(a, user.accessToken)).toBe(401);
  });
});

describe('keys rotate and keys reencrypt with a key-encryption secret that does not open the keys', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });
  const WRONG = 'not-the-key-encryption-secret-of-this-app!!';
  const NEW = 'the-new-key-encryption-secret-after-rotation';
  async function operatorContext(url: string, keyEncryptionSecret: string): Promise<KeyRotationService> {
    const context = await NestFactory.createApplicationContext(
      operatorModule({ databaseUrl: url, secret: TEST_SECRET, keyEncryptionSecret }),
      { logger: false },
    );
    closers.push(() => context.close());
    return context.get(KeyRotationService);
  }
  const stored = async (app: TestApp) =>
    (await app.dataSource.query('SELECT kid, private_key_encrypted FROM signing_keys ORDER BY kid')) as Array<{
      kid: string;
      private_key_encrypted: string;
    }>;

  it('a rotation is refused (fail closed), adding no key the instances could not read', async () => {
    const database = await createTestDatabase();
    closers.push(() => database.drop());
    const app = await startApp(database.url, { config: { jwtAlgorithm: 'EdDSA' } });
    closers.push(() => app.close());
    const before = await stored(app);
    const rotation = await operatorContext(database.url, WRONG);
    await expect(rotation.rotate()).rejects.toThrow(/cannot be used on this instance: .*does not decrypt/);
    expect(await stored(app)).toEqual(before);
  });

  it('re-encrypts every key in one go: the app restarts with the new secret and verifies the old tokens; the wrong old secret changes nothing', async () => {
    const database = await createTestDatabase();
    closers.push(() => database.drop());
    const clock = new FakeClock();
    const app = await startApp(database.url, { clock, config: { jwtAlgorithm: 'EdDSA' } });
    // Two keys (one HMAC), so that one transaction covers several rows.
    await app.app.get(KeyRotationService).rotate('HS256');
    const user = await registerAndLogin(app.http);
    // An authenticator app: its secret is encrypted under a key derived from the same secret.
    const { secret } = await enableTotp(app.http, user.accessToken, clock);
    const sealedSecret = async () =>
      (await app.dataSource.query('SELECT secret_encrypted FROM mfa_totp WHERE user_id = $1', [user.userId]))[0]
        .secret_encrypted as string;
    const sealedBefore = await sealedSecret();
    const before = await stored(app);
    expect(before).toHaveLength(2);

    await expect((await operatorContext(database.url, WRONG)).reencrypt(NEW)).rejects.toThrow(
      /does not decrypt with this key-encryption secret .*; nothing was re-encrypted/,
    );
    expect(await stored(app)).toEqual(before);

    expect((await (await operatorContext(database.url, TEST_KEY_ENCRYPTION_SECRET)).reencrypt(NEW)).sort()).toEqual(
      before.map((row) => row.kid),
    );
    const after = await stored(app);
    expect(after.map((row) => row.kid)).toEqual(before.map((row) => row.kid));
    for (const [index, row] of after.entries())
      expect(row.private_key_encrypted).not.toBe(before[index].private_key_encrypted);
    expect(await sealedSecret()).not.toBe(sealedBefore);
    await app.close();

    await expect(startApp(database.url, { clock, config: { jwtAlgorithm: 'EdDSA' } })).rejects.toThrow(
      /does not decrypt with this key-encryption secret/,
    );
    const restarted = await startApp(database.url, {
      clock,
      config: { jwtAlgorithm: 'EdDSA', keyEncryptionSecret: NEW },
    });
    closers.push(() => restarted.close());
    expect(await statusOf(restarted, user.accessToken)).toBe(200);
    const refreshed = await restarted.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
    expect(await statusOf(restarted, refreshed.body.accessToken)).toBe(200);
    // And it signs again: the HMAC key (now current) decrypts with the new secret.
    clock.advance(600);
    // The authenticator app still works under the new secret.
    const signedIn = await restarted.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(restarted.http, user.email), code: codeAt(secret, clock.now()) })
      .expect(200);
    const fresh = signedIn.body as { accessToken: string };
    expect(header(fresh.accessToken).alg).toBe('HS256');
    expect(await statusOf(restarted, fresh.accessToken)).toBe(200);
  });
});
