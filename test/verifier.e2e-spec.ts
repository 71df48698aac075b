import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import {
  AUTH_CLOCK,
  KeyRotationService,
  RevocationService,
  RevocationSyncService,
  RolesService,
  SigningKeys,
} from '../src/auth/index.js';
import {
  APPLICATION_OPTIONS,
  configureApp,
  createHttpAdapter,
  type HttpAdapterKind,
  whenReady,
} from '../src/example/app.setup.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually } from './support/latch.js';
import { bearer, login, PASSWORD, registerAndLogin, startApp, testAdapter, type TestApp } from './support/test-app.js';
import { codeAt, enableTotp, passwordStep } from './support/mfa.js';
import { VerifierAppModule, type VerifierAppOptions } from './verifier-app/verifier-app.module.js';

/** The verify-only service runs on the other adapter than the auth server. */
const otherAdapter = (): HttpAdapterKind => (testAdapter() === 'express' ? 'fastify' : 'express');

interface Verifier {
  app: INestApplication;
  http: TestAgent;
  close(): Promise<void>;
}

async function startVerifier(options: VerifierAppOptions, clock: FakeClock): Promise<Verifier> {
  const moduleRef = await Test.createTestingModule({ imports: [VerifierAppModule.forRoot(options)] })
    .overrideProvider(AUTH_CLOCK)
    .useValue(clock)
    .compile();
  const adapter = otherAdapter();
  const app = moduleRef.createNestApplication(createHttpAdapter(adapter), {
    ...APPLICATION_OPTIONS,
    logger: process.env.TEST_LOGS ? ['error', 'warn', 'log'] : false,
  });
  await configureApp(app, adapter);
  await app.init();
  await whenReady(app, adapter);
  return { app, http: request(app.getHttpServer()), close: () => app.close() };
}

const header = (token: string) => JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString());

describe(`verify-only service (AuthVerifierModule, on the other adapter than the auth server)`, () => {
  describe('with the public keys from the shared database', () => {
    let database: TestDatabase;
    let clock: FakeClock;
    let auth: TestApp;
    let verifier: Verifier;
    beforeAll(async () => {
      database = await createTestDatabase();
      clock = new FakeClock();
      auth = await startApp(database.url, { clock, config: { jwtAlgorithm: 'EdDSA' } });
      verifier = await startVerifier({ databaseUrl: database.url }, clock);
    });
    afterAll(async () => {
      await verifier.close();
      await auth.close();
      await database.drop();
    });

    /** Status and message of the verifier's guarded route for this token. */
    const onVerifier = async (token: string, path = '/orders') => {
      const response = await verifier.http.get(path).set(...bearer(token));
      return [response.status, response.body.message ?? response.body.userId];
    };
    /** Waits (up to 2 s) until the verifier refuses the token as revoked; the bench measures how fast. */
    const refusedOnVerifier = (token: string) =>
      eventually(async () => (await onVerifier(token))[1] === 'Token has been revoked');

    it("accepts the auth server's access tokens on its own routes, and has no login, keys or secrets of its own", async () => {
      const user = await registerAndLogin(auth.http);
      expect(await onVerifier(user.accessToken)).toEqual([200, user.userId]);
      expect(await onVerifier(user.accessToken, '/orders/export')).toEqual([200, user.userId]);
      await verifier.http.get('/health').expect(200);
      await verifier.http.get('/orders').expect(401);
      // Refresh tokens are for the auth server only.
      expect(await onVerifier(user.refreshToken)).toEqual([401, 'Invalid token']);
      for (const path of ['/auth/login', '/auth/register', '/auth/refresh']) {
        await verifier.http.post(path).send({ email: user.email, password: PASSWORD }).expect(404);
      }
      await verifier.http.get('/.well-known/jwks.json').expect(404);
      // It never read a private key: every key it holds verifies, none signs.
      expect(() => verifier.app.get(SigningKeys).signingKey()).toThrow('No signing key');
    });

    it('applies @RequireSecondFactor() and @RequireRecentAuth() from the token alone', async () => {
      const user = await registerAndLogin(auth.http);
      expect(await onVerifier(user.accessToken, '/orders/secure')).toEqual([403, 'Second factor required']);
      const refund = (token: string) => verifier.http.post('/orders/refund').set(...bearer(token));
      expect((await refund(user.accessToken)).status).toBe(201);
      clock.advance(301);
      expect((await refund(user.accessToken)).body).toEqual({
        statusCode: 403,
        message: 'Recent authentication required',
        error: 'Forbidden',
      });
      const again = await auth.http
        .post('/auth/reauthenticate')
        .set(...bearer(user.accessToken))
        .send({ password: PASSWORD })
        .expect(200);
      expect((await refund(again.body.accessToken)).status).toBe(201);

      const { secret } = await enableTotp(auth.http, again.body.accessToken, clock);
      const signedIn = await auth.http
        .post('/auth/login/mfa')
        .send({ mfaToken: await passwordStep(auth.http, user.email), code: codeAt(secret, clock.now()) })
        .expect(200);
      expect(await onVerifier(signedIn.body.accessToken, '/orders/secure')).toEqual([200, user.userId]);
    });

    it('applies @Roles() from the token alone, and a role change ends the sessions it sees', async () => {
      const user = await registerAndLogin(auth.http);
      const forbidden = { statusCode: 403, message: 'Insufficient role', error: 'Forbidden' };
      expect((await verifier.http.get('/orders/all').set(...bearer(user.accessToken))).body).toEqual(forbidden);
      await auth.app.get(RolesService).change(user.userId, { add: ['support'] }, {});
      // The token signed before the change is gone everywhere (a role change ends every session).
      await refusedOnVerifier(user.accessToken);
      const again = await login(auth.http, user.email);
      const allowed = await verifier.http
        .get('/orders/all')
        .set(...bearer(again.accessToken))
        .expect(200);
      expect(allowed.body).toEqual({ userId: user.userId, roles: ['support'], orders: [] });
      // A role the route does not name does not open it.
      await auth.app.get(RolesService).change(user.userId, { add: ['billing'], remove: ['support'] }, {});
      const billing = await login(auth.http, user.email);
      expect((await verifier.http.get('/orders/all').set(...bearer(billing.accessToken))).body).toEqual(forbidden);
    });

    it('refuses a logout, a device sign-out, a logout-all and an account deletion done on the auth server', async () => {
      const loggedOut = await registerAndLogin(auth.http);
      expect(await onVerifier(loggedOut.accessToken)).toEqual([200, loggedOut.userId]);
      await auth.http
        .post('/auth/logout')
        .set(...bearer(loggedOut.accessToken))
        .expect(204);
      await refusedOnVerifier(loggedOut.accessToken);

      const phone = await registerAndLogin(auth.http);
      const laptop = await login(auth.http, phone.email);
      await auth.http
        .delete(`/auth/sessions/${phone.sessionId}`)
        .set(...bearer(laptop.accessToken))
        .expect(204);
      await refusedOnVerifier(phone.accessToken);
      expect(await onVerifier(laptop.accessToken)).toEqual([200, phone.userId]);

      await auth.http
        .post('/auth/logout-all')
        .set(...bearer(laptop.accessToken))
        .expect(204);
      await refusedOnVerifier(laptop.accessToken);

      const leaving = await registerAndLogin(auth.http);
      expect(await onVerifier(leaving.accessToken)).toEqual([200, leaving.userId]);
      await auth.http
        .delete('/auth/account')
        .set(...bearer(leaving.accessToken))
        .send({ password: PASSWORD })
        .expect(204);
      await refusedOnVerifier(leaving.accessToken);
      // All of it answered from memory: the notifications reached the verifier.
      expect(verifier.app.get(RevocationSyncService).status).toBe('live');
    });

    it('fails closed: with its listener gone it asks the database, and misses nothing', async () => {
      const user = await registerAndLogin(auth.http);
      const sync = verifier.app.get(RevocationSyncService);
      const checks = verifier.app.get(RevocationService).databaseChecks;
      await auth.dataSource.query('SELECT pg_terminate_backend($1)', [sync.listenerBackendPid]);
      await eventually(() => sync.status !== 'live');
      // Whatever the listener missed meanwhile, the database answers.
      await auth.http
        .post('/auth/logout')
        .set(...bearer(user.accessToken))
        .expect(204);
      expect(await onVerifier(user.accessToken)).toEqual([401, 'Token has been revoked']);
      expect(verifier.app.get(RevocationService).databaseChecks).toBeGreaterThan(checks);
      await eventually(() => sync.status === 'live', 5_000);
    });

    it('learns a rotated key from the notification, before the key signs', async () => {
      const rotated = await auth.app.get(KeyRotationService).rotate();
      await eventually(() => verifier.app.get(SigningKeys).knows(rotated.kid));
      clock.advance(600);
      const user = await registerAndLogin(auth.http);
      expect(header(user.accessToken).kid).toBe(rotated.kid);
      expect(await onVerifier(user.accessToken)).toEqual([200, user.userId]);
    });

    it('follows keys revoke within a second, for a token it verified before too, and takes the new key at once', async () => {
      const user = await registerAndLogin(auth.http);
      expect(await onVerifier(user.accessToken)).toEqual([200, user.userId]);
      expect(await onVerifier(user.accessToken)).toEqual([200, user.userId]);
      const revoked = await auth.app.get(KeyRotationService).revoke(header(user.accessToken).kid);
      await eventually(async () => (await onVerifier(user.accessToken))[0] === 401, 1_000);
      expect(await onVerifier(user.accessToken)).toEqual([401, 'Invalid token']);
      const fresh = await login(auth.http, user.email);
      expect(header(fresh.accessToken).kid).toBe(revoked.replacement?.kid);
      expect(await onVerifier(fresh.accessToken)).toEqual([200, user.userId]);
    });
  });

  describe('with the public keys from the JWKS URL', () => {
    let database: TestDatabase;
    let clock: FakeClock;
    let auth: TestApp;
    const verifiers: Verifier[] = [];
    beforeAll(async () => {
      database = await createTestDatabase();
      clock = new FakeClock();
      auth = await startApp(database.url, { clock, config: { jwtAlgorithm: 'ES256' } });
      await auth.app.listen(0, '127.0.0.1');
    });
    afterEach(async () => {
      for (const verifier of verifiers.splice(0)) await verifier.close();
    });
    afterAll(async () => {
      await auth.close();
      await database.drop();
    });
    const jwksUrl = () =>
      `http://127.0.0.1:${(auth.app.getHttpServer().address() as AddressInfo).port}/.well-known/jwks.json`;

    it('verifies with the published keys, follows a rotation, and still honours every revocation at once', async () => {
      const verifier = await startVerifier({ databaseUrl: database.url, jwksUrl: jwksUrl() }, clock);
      verifiers.push(verifier);
      const user = await registerAndLogin(auth.http);
      expect((await verifier.http.get('/orders').set(...bearer(user.accessToken))).status).toBe(200);

      // The notification of the change makes the verifier read the JWKS again, shortly after
      // (when the auth server has reloaded its own keys).
      const rotated = await auth.app.get(KeyRotationService).rotate();
      await eventually(() => verifier.app.get(SigningKeys).knows(rotated.kid), 5_000);
      clock.advance(600);
      const after = await login(auth.http, user.email);
      expect(header(after.accessToken).kid).toBe(rotated.kid);
      await verifier.http
        .get('/orders')
        .set(...bearer(after.accessToken))
        .expect(200);

      await auth.http
        .post('/auth/logout-all')
        .set(...bearer(after.accessToken))
        .expect(204);
      await eventually(
        async () => (await verifier.http.get('/orders').set(...bearer(user.accessToken))).status === 401,
      );
      await verifier.http
        .get('/orders')
        .set(...bearer(after.accessToken))
        .expect(401);
    });

    it('follows keys revoke within a second, before it reads the JWKS again, then takes the new key', async () => {
      const verifier = await startVerifier({ databaseUrl: database.url, jwksUrl: jwksUrl() }, clock);
      verifiers.push(verifier);
      const user = await registerAndLogin(auth.http);
      const onVerifier = async (token: string) => (await verifier.http.get('/orders').set(...bearer(token))).status;
      expect(await onVerifier(user.accessToken)).toBe(200);
      expect(await onVerifier(user.accessToken)).toBe(200);
      const loads = verifier.app.get(SigningKeys).loads;
      const revoked = await auth.app.get(KeyRotationService).revoke(header(user.accessToken).kid);
      await eventually(async () => (await onVerifier(user.accessToken)) === 401, 1_000);
      // Known from the database (revoked ids are public), not from a new read of the JWKS.
      expect(verifier.app.get(SigningKeys).loads).toBe(loads);
      const fresh = await login(auth.http, user.email);
      expect(header(fresh.accessToken).kid).toBe(revoked.replacement?.kid);
      await eventually(async () => (await onVerifier(fresh.accessToken)) === 200, 5_000);
      expect(await onVerifier(user.accessToken)).toBe(401);
    });

    it('reads the JWKS at most once for a burst of tokens with unknown key ids', async () => {
      // The JWKS through a proxy that counts the reads.
      let reads = 0;
      const proxy: Server = createServer((_request, response) => {
        reads += 1;
        fetch(jwksUrl()).then(
          async (upstream) => {
            response.writeHead(upstream.status, {
              'content-type': upstream.headers.get('content-type') ?? 'application/json',
              'cache-control': upstream.headers.get('cache-control') ?? 'no-store',
            });
            response.end(await upstream.text());
          },
          () => response.writeHead(502).end(),
        );
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const proxied = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/.well-known/jwks.json`;
        const verifier = await startVerifier({ databaseUrl: database.url, jwksUrl: proxied }, clock);
        verifiers.push(verifier);
        const atStart = reads;
        const user = await registerAndLogin(auth.http);
        const claims = JSON.parse(Buffer.from(user.accessToken.split('.')[1], 'base64url').toString()) as object;
        const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
        const unknownKid = () =>
          `${b64({ alg: 'ES256', typ: 'JWT', kid: randomBytes(32).toString('base64url').slice(0, 43) })}.${b64(claims)}.${randomBytes(64).toString('base64url')}`;
        const status = async (token: string) => (await verifier.http.get('/orders').set(...bearer(token))).status;
        // At once, and one after the other.
        expect(new Set(await Promise.all(Array.from({ length: 50 }, () => status(unknownKid()))))).toEqual(
          new Set([401]),
        );
        for (let index = 0; index < 50; index += 1) expect(await status(unknownKid())).toBe(401);
        expect(reads - atStart).toBeLessThanOrEqual(1);
        // The genuine token is still taken.
        expect(await status(user.accessToken)).toBe(200);
      } finally {
        await new Promise((resolve) => proxy.close(resolve));
      }
    });

    it('refuses to start when the JWKS cannot be read', async () => {
      await expect(
        startVerifier({ databaseUrl: database.url, jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json' }, clock),
      ).rejects.toThrow(/fetch failed|ECONNREFUSED/);
    });
  });

  it('refuses HS256 tokens: the shared secret never leaves the auth server', async () => {
    const database = await createTestDatabase();
    const clock = new FakeClock();
    const auth = await startApp(database.url, { clock });
    const verifier = await startVerifier({ databaseUrl: database.url }, clock);
    try {
      const user = await registerAndLogin(auth.http);
      expect(header(user.accessToken).alg).toBe('HS256');
      const response = await verifier.http.get('/orders').set(...bearer(user.accessToken));
      expect([response.status, response.body.message]).toEqual([401, 'Invalid token']);
    } finally {
      await verifier.close();
      await auth.close();
      await database.drop();
    }
  });
});
