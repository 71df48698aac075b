import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RevocationSyncService } from '../src/auth/index.js';
import { runAuthMigrations } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually } from './support/latch.js';
import { type PostgresServer, startPostgresServer } from './support/postgres-server.js';
import { bearer, PASSWORD, registerAndLogin, startApp, type TestApp } from './support/test-app.js';

/**
 * The database goes away under two running instances, and comes back. This spec runs its own
 * PostgreSQL (the shared one of the run serves the other spec files meanwhile).
 */
describe('PostgreSQL stopped and restarted under two instances', () => {
  let postgres: PostgresServer;
  const clock = new FakeClock();
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    postgres = await startPostgresServer(['-c', 'fsync=off']);
    await runAuthMigrations(postgres.url);
    a = await startApp(postgres.url, { clock });
    b = await startApp(postgres.url, { clock });
  }, 60_000);

  afterAll(async () => {
    await a?.close().catch(() => {});
    await b?.close().catch(() => {});
    await postgres?.stop();
  });

  it('answers 503 with Retry-After while it is down (never 200 from memory, never 500), and recovers by itself', async () => {
    const user = await registerAndLogin(a.http);
    const other = await registerAndLogin(b.http);
    for (const app of [a, b])
      expect((await app.http.get('/profile').set(...bearer(user.accessToken))).status).toBe(200);

    await postgres.halt();
    // Both listeners see their connection end.
    await eventually(() => a.app.get(RevocationSyncService).status !== 'live', 3_000);
    await eventually(() => b.app.get(RevocationSyncService).status !== 'live', 3_000);

    for (const app of [a, b]) {
      for (const path of ['/profile', '/profile/strict', '/auth/me', '/auth/sessions']) {
        const response = await app.http.get(path).set(...bearer(user.accessToken));
        expect(`${path} ${response.status}`).toBe(`${path} 503`);
        expect(Number(response.headers['retry-after'])).toBeGreaterThan(0);
        expect(response.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
      }
      const loggingIn = await app.http.post('/auth/login').send({ email: user.email, password: PASSWORD });
      expect(loggingIn.status).toBe(503);
      expect(loggingIn.headers['retry-after']).toBeDefined();
      const refreshing = await app.http.post('/auth/refresh').send({ refreshToken: other.refreshToken });
      expect(refreshing.status).toBe(503);
      const registering = await app.http.post('/auth/register').send({ email: 'new@example.com', password: PASSWORD });
      expect(registering.status).toBe(503);
      const loggingOut = await app.http.post('/auth/logout').set(...bearer(user.accessToken));
      expect(loggingOut.status).toBe(503);
      // The process is up and serves what needs no database.
      await app.http.get('/health').expect(200);
    }

    await postgres.restart();
    // Every instance comes back by itself: listener live again, requests answered.
    for (const app of [a, b]) {
      await eventually(() => app.app.get(RevocationSyncService).status === 'live', 10_000);
      await eventually(
        async () => (await app.http.get('/profile').set(...bearer(user.accessToken))).status === 200,
        5_000,
      );
    }
    await a.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    // And revocations propagate again.
    await a.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    await eventually(async () => (await b.http.get('/profile').set(...bearer(user.accessToken))).status === 401, 1_000);
  }, 60_000);
});
