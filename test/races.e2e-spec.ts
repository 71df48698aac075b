import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { PASSWORD_HASHER, type PasswordHasher } from '../src/auth/index.js';
import { RevocationRepository } from '../src/auth/revocation/revocation.repository.js';
import { SessionRepository } from '../src/auth/sessions/session.repository.js';
import type { TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, holdNextCall, Latch } from './support/latch.js';
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

/**
 * A revocation that returned must hold, whatever ran beside it. Each race is first held at its
 * dangerous point (a latched repository call or hasher on one of two instances), then run many
 * times with random timing.
 */
describe('races between revocations and token issuance, on two instances', () => {
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
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const status = statusOf;

  /**
   * A pair must be dead everywhere: at once in the database (strict routes) and in the memory of
   * the revoking instance A; in B's memory as soon as the notification has arrived (milliseconds);
   * and its refresh token refused.
   */
  async function expectDead(pair: { accessToken: string; refreshToken: string }) {
    expect(await status(a, pair.accessToken)).toBe(401);
    for (const app of [a, b]) expect(await status(app, pair.accessToken, '/profile/strict')).toBe(401);
    await eventually(async () => (await status(b, pair.accessToken)) === 401, 1_000);
    expect((await b.http.post('/auth/refresh').send({ refreshToken: pair.refreshToken })).status).toBe(401);
  }

  describe('logout-all against a refresh in flight', () => {
    it('a refresh that signs and commits while the logout-all is held before its cut-off yields a dead pair', async () => {
      const user = await registerAndLogin(a.http);
      const held = new Latch();
      const repository = a.app.get(RevocationRepository, { strict: false });
      const original = repository.revokeAllForUser.bind(repository);
      jest.spyOn(repository, 'revokeAllForUser').mockImplementation(async (...args) => {
        await held.hold();
        return original(...args);
      });
      const logoutAll = a.http.post('/auth/logout-all').set(...bearer(user.accessToken));
      const logoutAllDone = logoutAll.then((response) => response.status);
      await held.reached;
      // Later on every clock than the request that is on its way to revoke: an app-clock cut-off
      // taken before the transaction would let this pair through.
      clock.advance(2);
      const refreshed = await b.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
      held.release();
      expect(await logoutAllDone).toBe(204);
      await expectDead(refreshed.body);
      await expectDead(user);
    });

    it('a refresh held after its rotation committed, answered after logout-all returned, yields a dead pair', async () => {
      const user = await registerAndLogin(a.http);
      const held = new Latch();
      const repository = b.app.get(SessionRepository, { strict: false });
      const original = repository.rotateRefreshToken.bind(repository);
      jest.spyOn(repository, 'rotateRefreshToken').mockImplementation(async (rotation) => {
        const rotated = await original(rotation);
        await held.hold();
        return rotated;
      });
      const refresh = b.http.post('/auth/refresh').send({ refreshToken: user.refreshToken });
      const refreshDone = refresh.then((response) => response);
      await held.reached;
      clock.advance(1);
      await a.http
        .post('/auth/logout-all')
        .set(...bearer(user.accessToken))
        .expect(204);
      held.release();
      const response = await refreshDone;
      expect(response.status).toBe(200);
      await expectDead(response.body);
    });

    it('a refresh held before its rotation, released after logout-all returned, is refused', async () => {
      const user = await registerAndLogin(a.http);
      const held = new Latch();
      const repository = b.app.get(SessionRepository, { strict: false });
      const original = repository.rotateRefreshToken.bind(repository);
      jest.spyOn(repository, 'rotateRefreshToken').mockImplementation(async (rotation) => {
        await held.hold();
        return original(rotation);
      });
      const refreshDone = b.http
        .post('/auth/refresh')
        .send({ refreshToken: user.refreshToken })
        .then((response) => response);
      await held.reached;
      await a.http
        .post('/auth/logout-all')
        .set(...bearer(user.accessToken))
        .expect(204);
      held.release();
      expect((await refreshDone).status).toBe(401);
    });

    it('a login that slips in while the logout-all waits for a lock cannot open a session that survives it', async () => {
      const user = await registerAndLogin(a.http);
      // Another login in flight: it holds the user's row (FOR SHARE) in its transaction.
      const inFlight = await a.dataSource.createQueryRunner();
      await inFlight.connect();
      await inFlight.startTransaction();
      await inFlight.query('SELECT 1 FROM users WHERE id = $1 FOR SHARE', [user.userId]);
      let loggedOut = false;
      const logoutAll = a.http
        .post('/auth/logout-all')
        .set(...bearer(user.accessToken))
        .then((response) => {
          loggedOut = true;
          return response;
        });
      // Until the logout-all waits for the row lock in PostgreSQL.
      await eventually(async () => {
        const [{ waiting }] = await a.dataSource.query(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%FOR NO KEY UPDATE%'`,
        );
        return waiting > 0;
      }, 5_000);
      // A share lock is granted beside another one even while an update waits: this login opens
      // its session and answers while the logout-all is still waiting.
      const login = await b.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
      expect(loggedOut).toBe(false);
      await inFlight.commitTransaction();
      await inFlight.release();
      expect((await logoutAll).status).toBe(204);
      // The cut-off is read from the clock only once the row is locked: that session is behind it.
      await expectDead(login.body);
    });

    it('an instance whose clock runs behind cannot leave a session of another instance alive', async () => {
      // No race at all: B signs with a clock 3 s ahead of A's (within the default tolerance).
      const behind = new FakeClock(new Date(Date.now() - 3_000));
      const ahead = new FakeClock(new Date(Date.now()));
      const slow = await startApp(database.url, { clock: behind });
      const fast = await startApp(database.url, { clock: ahead });
      try {
        const user = await registerAndLogin(fast.http);
        expect(await status(slow, user.accessToken)).toBe(200);
        await slow.http
          .post('/auth/logout-all')
          .set(...bearer(user.accessToken))
          .expect(204);
        for (const app of [slow, fast]) {
          expect(await status(app, user.accessToken, '/profile/strict')).toBe(401);
        }
        expect(await status(slow, user.accessToken)).toBe(401);
        expect((await fast.http.post('/auth/refresh').send({ refreshToken: user.refreshToken })).status).toBe(401);
      } finally {
        await slow.close();
        await fast.close();
      }
    });

    it('random timing, 25 rounds: no pair returned by a concurrent refresh survives the logout-all', async () => {
      for (let round = 0; round < 25; round += 1) {
        const user = await registerAndLogin(a.http);
        const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
        const [refreshed, loggedOut] = await Promise.all([
          (async () => {
            await pause(Math.random() * 6);
            return b.http.post('/auth/refresh').send({ refreshToken: user.refreshToken });
          })(),
          (async () => {
            await pause(Math.random() * 6);
            return a.http.post('/auth/logout-all').set(...bearer(user.accessToken));
          })(),
        ]);
        // A refresh ends no access token: the logout-all always goes through, and every round
        // checks that what the refresh returned (if anything) died with the rest.
        expect([round, loggedOut.status]).toEqual([round, 204]);
        expect([200, 401]).toContain(refreshed.status);
        if (refreshed.status === 200) await expectDead(refreshed.body);
        await expectDead(user);
      }
    });
  });

  describe('password change against a login with the old password in flight', () => {
    it('a login that verified the old password before the change cannot open a session after it', async () => {
      const user = await registerAndLogin(a.http);
      // The login holds once it has verified the old password, before it opens its session.
      const { latch: held } = holdNextCall(b.app.get<PasswordHasher>(PASSWORD_HASHER), 'verify', 'after');
      const loginDone = b.http
        .post('/auth/login')
        .send({ email: user.email, password: PASSWORD })
        .then((response) => response);
      await held.reached;
      await a.http
        .post('/auth/password')
        .set(...bearer(user.accessToken))
        .send({ currentPassword: PASSWORD, newPassword: 'a brand new password' })
        .expect(204);
      held.release();
      const response = await loginDone;
      expect(response.status).toBe(401);
      const [{ count }] = await a.dataSource.query(
        `SELECT count(*)::int AS count FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`,
        [user.userId],
      );
      // Only the session that changed the password.
      expect(count).toBe(1);
    });

    it('random timing, 15 rounds: every session opened with the old password ends', async () => {
      for (let round = 0; round < 15; round += 1) {
        const user = await registerAndLogin(a.http);
        const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
        const [loggedIn, changed] = await Promise.all([
          (async () => {
            await pause(Math.random() * 25);
            return b.http.post('/auth/login').send({ email: user.email, password: PASSWORD });
          })(),
          (async () => {
            await pause(Math.random() * 25);
            return a.http
              .post('/auth/password')
              .set(...bearer(user.accessToken))
              .send({ currentPassword: PASSWORD, newPassword: `new password ${round}` });
          })(),
        ]);
        expect(changed.status).toBe(204);
        expect([200, 401]).toContain(loggedIn.status);
        if (loggedIn.status === 200) await expectDead(loggedIn.body);
        // The changer's own session goes on.
        expect(await status(a, user.accessToken, '/profile/strict')).toBe(200);
      }
    });
  });

  it('a login with the new password right after a change works', async () => {
    const user = await registerAndLogin(a.http);
    await a.http
      .post('/auth/password')
      .set(...bearer(user.accessToken))
      .send({ currentPassword: PASSWORD, newPassword: 'the next password' })
      .expect(204);
    const fresh = await b.http
      .post('/auth/login')
      .send({ email: user.email, password: 'the next password' })
      .expect(200);
    expect(await status(a, fresh.body.accessToken)).toBe(200);
  });
});
