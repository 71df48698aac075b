import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AccountService, RevocationService, RevocationSyncService, PurgeService } from '../src/auth/index.js';
import type { TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually } from './support/latch.js';
import {
  bearer,
  PASSWORD,
  registerAndLogin,
  startApp,
  type TestApp,
  startTwoInstances,
  statusOf,
  type TwoInstances,
} from './support/test-app.js';

describe('account deletion', () => {
  const clock = new FakeClock();
  let instances: TwoInstances;
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    instances = await startTwoInstances(clock);
    ({ database, a, b } = instances);
  });
  afterAll(() => instances.close());

  const status = statusOf;
  const deleteAccount = (app: TestApp, token: string, password: string) =>
    app.http
      .delete('/auth/account')
      .set(...bearer(token))
      .send({ password });

  it('DELETE /auth/account with the password: 204, user and sessions gone, every token refused everywhere', async () => {
    const user = await registerAndLogin(a.http);
    const phone = await b.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    expect(await status(b, phone.body.accessToken)).toBe(200);

    await deleteAccount(a, user.accessToken, PASSWORD).expect(204);

    const [{ users }] = await a.dataSource.query('SELECT count(*)::int AS users FROM users WHERE id = $1', [
      user.userId,
    ]);
    const [{ sessions }] = await a.dataSource.query(
      'SELECT count(*)::int AS sessions FROM sessions WHERE user_id = $1',
      [user.userId],
    );
    expect({ users, sessions }).toEqual({ users: 0, sessions: 0 });
    // At once on the deleting instance, from memory and from the database.
    for (const token of [user.accessToken, phone.body.accessToken]) {
      expect(await status(a, token)).toBe(401);
      expect(await status(a, token, '/profile/strict')).toBe(401);
      await eventually(async () => (await status(b, token)) === 401, 1_000);
    }
    await b.http.post('/auth/refresh').send({ refreshToken: phone.body.refreshToken }).expect(401);
    await a.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(401);
    // The address is free again: a new account, a new id.
    const again = await a.http.post('/auth/register').send({ email: user.email, password: PASSWORD }).expect(201);
    expect(again.body.id).not.toBe(user.userId);
  });

  it('stays refused after a listener reload and on an instance started later', async () => {
    const user = await registerAndLogin(a.http);
    await deleteAccount(a, user.accessToken, PASSWORD).expect(204);
    await eventually(async () => (await status(b, user.accessToken)) === 401, 1_000);

    // B loses its listener and reloads everything from the database.
    const sync = b.app.get(RevocationSyncService);
    const loads = sync.loadCount;
    await a.dataSource.query('SELECT pg_terminate_backend($1)', [sync.listenerBackendPid]);
    await eventually(() => sync.status === 'live' && sync.loadCount > loads, 5_000);
    const checks = b.app.get(RevocationService).databaseChecks;
    expect(await status(b, user.accessToken)).toBe(401);
    // Answered from memory: the reloaded state knows the deletion (a tombstone).
    expect(b.app.get(RevocationService).databaseChecks).toBe(checks);

    const later = await startApp(database.url, { clock });
    try {
      expect(later.app.get(RevocationSyncService).status).toBe('live');
      expect(await status(later, user.accessToken)).toBe(401);
      expect(later.app.get(RevocationService).databaseChecks).toBe(0);
    } finally {
      await later.close();
    }
  });

  it('a wrong password: 401 and nothing deleted; wrong passwords are throttled like logins', async () => {
    const user = await registerAndLogin(a.http);
    const wrong = await deleteAccount(a, user.accessToken, 'not my password').expect(401);
    expect(wrong.body).toEqual({ statusCode: 401, message: 'Current password is incorrect', error: 'Unauthorized' });
    expect(await status(a, user.accessToken, '/profile/strict')).toBe(200);
    for (let attempt = 1; attempt < 5; attempt += 1)
      await deleteAccount(a, user.accessToken, 'still wrong').expect(401);
    const throttled = await deleteAccount(a, user.accessToken, PASSWORD).expect(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    const [{ users }] = await a.dataSource.query('SELECT count(*)::int AS users FROM users WHERE id = $1', [
      user.userId,
    ]);
    expect(users).toBe(1);
  });

  it('needs a token and a password', async () => {
    await a.http.delete('/auth/account').send({ password: PASSWORD }).expect(401);
    const user = await registerAndLogin(a.http);
    await a.http
      .delete('/auth/account')
      .set(...bearer(user.accessToken))
      .send({})
      .expect(400);
  });

  it('deleteUser(userId) for host apps does the same; false for an unknown user', async () => {
    const user = await registerAndLogin(a.http);
    expect(await a.app.get(AccountService).deleteUser(user.userId)).toBe(true);
    expect(await status(a, user.accessToken)).toBe(401);
    await eventually(async () => (await status(b, user.accessToken)) === 401, 1_000);
    expect(await a.app.get(AccountService).deleteUser(user.userId)).toBe(false);
  });

  it('keeps the tombstone until the session retention has passed, then the purge removes it', async () => {
    const user = await registerAndLogin(a.http);
    await a.app.get(AccountService).deleteUser(user.userId);
    const tombstones = async () =>
      (await a.dataSource.query('SELECT count(*)::int AS n FROM deleted_users WHERE user_id = $1', [user.userId]))[0].n;
    await a.app.get(PurgeService).purgeExpired();
    expect(await tombstones()).toBe(1);
    clock.advance(604_800 + 60);
    await a.app.get(PurgeService).purgeExpired();
    expect(await tombstones()).toBe(0);
  });
});
