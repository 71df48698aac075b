import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SECURITY_EVENT_HANDLER, type SecurityEvent } from '../src/auth/index.js';
import { RevocationRepository } from '../src/auth/revocation/revocation.repository.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, holdNextCall } from './support/latch.js';
import {
  bearer,
  createTestApp,
  PASSWORD,
  startApp,
  type TestApp,
  type TestAppWithDatabase,
  uniqueEmail,
} from './support/test-app.js';

class CapturedEvents {
  readonly events: SecurityEvent[] = [];
  handle(event: SecurityEvent): void {
    this.events.push(event);
  }
}

describe('password checks are budgeted per client, right or wrong (PASSWORD_CHECKS_MAX_PER_IP)', () => {
  let t: TestAppWithDatabase;
  const captured = new CapturedEvents();
  beforeAll(async () => {
    t = await createTestApp({
      config: { passwordChecksMaxPerIp: 4, passwordChecksWindow: 60, passwordChecksMaxPerNetwork: 6 },
      overrides: [[SECURITY_EVENT_HANDLER, captured]],
    });
  });
  afterAll(async () => {
    await t.close();
  });

  const from = (ip: string) => ({
    login: (email: string, password = PASSWORD) =>
      t.http.post('/auth/login').set('X-Forwarded-For', ip).send({ email, password }),
    changePassword: (token: string, currentPassword: string, newPassword: string) =>
      t.http
        .post('/auth/password')
        .set('X-Forwarded-For', ip)
        .set(...bearer(token))
        .send({ currentPassword, newPassword }),
    deleteAccount: (token: string, password: string) =>
      t.http
        .delete('/auth/account')
        .set('X-Forwarded-For', ip)
        .set(...bearer(token))
        .send({ password }),
  });
  const register = async () => {
    const email = uniqueEmail('budget');
    await t.http
      .post('/auth/register')
      .set('X-Forwarded-For', '192.0.2.250')
      .send({ email, password: PASSWORD })
      .expect(201);
    return email;
  };

  it('counts correct logins too: past the budget, 429 with Retry-After before any hashing; other clients unaffected', async () => {
    const email = await register();
    const client = from('198.51.100.20');
    for (let i = 0; i < 4; i += 1) {
      await client.login(email).expect(200);
      t.clock.advance(5);
    }
    const refused = await client.login(email).expect(429);
    // The first check leaves the 60 s window 20 s after now.
    expect(refused.headers['retry-after']).toBe('40');
    expect(refused.body).toEqual({
      statusCode: 429,
      message: 'Too many password checks from this address; retry in 40 seconds',
      error: 'Too Many Requests',
    });
    expect(captured.events).toContainEqual(
      expect.objectContaining({ type: 'login_throttled', ip: '198.51.100.20', reason: 'password_checks' }),
    );
    await from('198.51.100.21').login(email).expect(200);
    // The window slides: once the first check is 60 s old, one more fits.
    t.clock.advance(40);
    await client.login(email).expect(200);
    await client.login(email).expect(429);
  });

  it('counts wrong passwords and unknown addresses the same', async () => {
    const email = await register();
    const client = from('198.51.100.30');
    await client.login(email, 'wrong password').expect(401);
    await client.login(uniqueEmail('nobody')).expect(401);
    await client.login(email).expect(200);
    await client.login(uniqueEmail('nobody'), 'wrong password').expect(401);
    await client.login(email).expect(429);
    t.clock.advance(61);
  });

  it('counts every /64 of an IPv6 /48 together too (PASSWORD_CHECKS_MAX_PER_NETWORK)', async () => {
    const email = await register();
    for (const subnet of ['a', 'b', 'c']) {
      await from(`2001:db8:5:${subnet}::1`).login(email).expect(200);
      await from(`2001:db8:5:${subnet}::2`).login(email, 'wrong password').expect(401);
    }
    const refused = await from('2001:db8:5:d::1').login(email).expect(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(captured.events.at(-1)).toMatchObject({ type: 'login_throttled', reason: 'password_checks_network' });
    await from('2001:db8:6:d::1').login(email).expect(200);
    t.clock.advance(61);
  });

  it('counts the current password checked before a password change and before a deletion, and a refused one changes nothing', async () => {
    const email = await register();
    const client = from('2001:db8:77:1::1');
    const { accessToken } = (await client.login(email).expect(200)).body;
    await client.changePassword(accessToken, 'wrong password', 'a brand new passphrase').expect(401);
    await client.changePassword(accessToken, PASSWORD, 'a brand new passphrase').expect(204);
    // Same /64: the same client.
    const sameClient = from('2001:db8:77:1:ffff::2');
    const { accessToken: again } = (await sameClient.login(email, 'a brand new passphrase').expect(200)).body;
    const refused = await sameClient.deleteAccount(again, 'a brand new passphrase').expect(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    // Still there: another client signs in and deletes it.
    const { accessToken: other } = (await from('198.51.100.40').login(email, 'a brand new passphrase').expect(200))
      .body;
    await from('198.51.100.40').deleteAccount(other, 'a brand new passphrase').expect(204);
    t.clock.advance(61);
  });
});

describe('sessions per user are capped (MAX_SESSIONS_PER_USER): a login past it ends the least recently used, on every instance', () => {
  let database: TestDatabase;
  let clock: FakeClock;
  let a: TestApp;
  let b: TestApp;
  const captured = new CapturedEvents();
  const CAP = 3;
  beforeAll(async () => {
    database = await createTestDatabase();
    clock = new FakeClock();
    const config = { maxSessionsPerUser: CAP };
    a = await startApp(database.url, { clock, config });
    b = await startApp(database.url, { clock, config, overrides: [[SECURITY_EVENT_HANDLER, captured]] });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.drop();
  });

  const register = async () => {
    const email = uniqueEmail('cap');
    await a.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    return email;
  };
  const login = async (app: TestApp, email: string, deviceName: string) =>
    (await app.http.post('/auth/login').send({ email, password: PASSWORD, deviceName }).expect(200)).body as {
      accessToken: string;
      refreshToken: string;
      sessionId: string;
    };
  const me = (app: TestApp, token: string) => app.http.get('/auth/me').set(...bearer(token));
  const liveSessions = async (email: string) =>
    (
      await a.dataSource.query(
        `SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE u.email = $1 AND s.revoked_at IS NULL`,
        [email],
      )
    )[0].n as number;

  it('ends the least recently used session at once on both instances, tokens and refresh alike, with a security event', async () => {
    const email = await register();
    const first = await login(a, email, 'first');
    clock.advance(120);
    const second = await login(a, email, 'second');
    // Both instances have seen the second device's token (it is in their fast path); a request
    // within a minute of the last write does not move last_used_at.
    await me(a, second.accessToken).expect(200);
    await me(b, second.accessToken).expect(200);
    clock.advance(120);
    const third = await login(b, email, 'third');
    clock.advance(120);
    // The first device is used now: the second becomes the least recently used.
    await me(a, first.accessToken).expect(200);
    await eventually(async () => {
      const [row] = await a.dataSource.query('SELECT last_used_at AS used FROM sessions WHERE id = $1', [
        first.sessionId,
      ]);
      return row.used.getTime() === clock.now().getTime();
    });
    clock.advance(120);

    const fourth = await login(b, email, 'fourth');
    // Refused at once on the instance that logged in, and within moments on the other.
    await me(b, second.accessToken).expect(401);
    await eventually(async () => (await me(a, second.accessToken)).status === 401);
    await a.http.post('/auth/refresh').send({ refreshToken: second.refreshToken }).expect(401);
    for (const kept of [first, third, fourth]) {
      await me(a, kept.accessToken).expect(200);
      await me(b, kept.accessToken).expect(200);
    }
    const devices = await a.http
      .get('/auth/sessions')
      .set(...bearer(fourth.accessToken))
      .expect(200);
    expect(devices.body.map((device: { deviceName: string }) => device.deviceName).sort()).toEqual([
      'first',
      'fourth',
      'third',
    ]);
    expect(captured.events).toContainEqual(
      expect.objectContaining({ type: 'session_revoked', sessionId: second.sessionId, reason: 'session_limit' }),
    );
    const [row] = await a.dataSource.query('SELECT revoked_reason FROM sessions WHERE id = $1', [second.sessionId]);
    expect(row.revoked_reason).toBe('session_limit');
  });

  it("keeps the login's own session even when another instance's clock wrote a later last use elsewhere", async () => {
    const email = await register();
    const sessions: string[] = [];
    for (let i = 0; i < CAP; i += 1) {
      sessions.push((await login(a, email, `device ${i}`)).sessionId);
      clock.advance(1);
    }
    // Every earlier session looks used an hour from now (an instance whose clock runs ahead).
    await a.dataSource.query(`UPDATE sessions SET last_used_at = $2 WHERE id = ANY($1::uuid[])`, [
      sessions,
      new Date(clock.now().getTime() + 3_600_000),
    ]);
    const fresh = await login(b, email, 'new');
    await me(b, fresh.accessToken).expect(200);
    await me(a, fresh.accessToken).expect(200);
    expect(await liveSessions(email)).toBe(CAP);
  });

  it('two logins at the cap at once: the second waits for the first to commit, and the cap holds', async () => {
    const email = await register();
    for (let i = 0; i < CAP; i += 1) {
      await login(a, email, `device ${i}`);
      clock.advance(1);
    }
    // The first login holds its transaction open right after ending sessions over the cap.
    const held = holdNextCall(a.app.get(RevocationRepository), 'endLeastRecentlyUsedIn', 'after');
    const one = login(a, email, 'one');
    await held.latch.reached;
    const two = login(b, email, 'two');
    // The second counts only once the first has committed: it waits on the per-user lock.
    await eventually(async () => {
      const [{ n }] = await a.dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'
            AND datname = current_database()`,
      );
      return n === 1;
    }, 5_000);
    held.latch.release();
    await Promise.all([one, two]);
    held.restore();
    expect(await liveSessions(email)).toBe(CAP);
  });

  it('random timing, 6 rounds of 4 logins at once across both instances: never more than the cap', async () => {
    const email = await register();
    for (let round = 0; round < 6; round += 1) {
      await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
          return login(i % 2 ? a : b, email, `round ${round}.${i}`);
        }),
      );
      clock.advance(1);
      expect([round, await liveSessions(email)]).toEqual([round, CAP]);
    }
  });
});

describe('IPv6: a second, wider limit per /48 on registrations and mails', () => {
  let t: TestAppWithDatabase;
  const captured = new CapturedEvents();
  beforeAll(async () => {
    t = await createTestApp({
      config: { registerMaxPerIp: 2 },
      overrides: [[SECURITY_EVENT_HANDLER, captured]],
    });
  });
  afterAll(async () => {
    await t.close();
  });
  const register = (ip: string, email = uniqueEmail('net')) =>
    t.http.post('/auth/register').set('X-Forwarded-For', ip).send({ email, password: PASSWORD });

  it('counts registrations from every /64 of a /48 together (REGISTER_MAX_PER_NETWORK); a /64 refused by its own limit spends nothing of the /48', async () => {
    // The module's default: 100 per /48 per window. One /64 is refused by its own limit first,
    // and its refusals do not count against the /48.
    await register('2001:db8:a1:ff::1').expect(201);
    await register('2001:db8:a1:ff::2').expect(201);
    for (let i = 0; i < 3; i += 1) await register('2001:db8:a1:ff::3').expect(429);
    for (let subnet = 1; subnet <= 98; subnet += 1) {
      await register(`2001:db8:a1:${subnet.toString(16)}::1`).expect(201);
    }
    const refused = await register('2001:db8:a1:ab::1').expect(429);
    expect(refused.body.message).toMatch(/^Too many registrations from this network; retry in \d+ seconds$/);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(captured.events.at(-1)).toMatchObject({ type: 'register_throttled', reason: 'network' });
    // Another /48, and IPv4 clients, are not affected.
    await register('2001:db8:a2:1::1').expect(201);
    await register('198.51.100.60').expect(201);
  });

  it('counts mails asked for from every /64 of a /48 together (mailMaxPerNetwork)', async () => {
    const forgot = (ip: string) =>
      t.http
        .post('/auth/password/forgot')
        .set('X-Forwarded-For', ip)
        .send({ email: uniqueEmail('mail') });
    for (let subnet = 1; subnet <= 100; subnet += 1) {
      await forgot(`2001:db8:b1:${subnet.toString(16)}::1`).expect(202);
    }
    await forgot('2001:db8:b1:ffff::1').expect(429);
    expect(captured.events.at(-1)).toMatchObject({ type: 'mail_throttled', reason: 'reset-net' });
    await forgot('2001:db8:b2:1::1').expect(202);
  });
});
