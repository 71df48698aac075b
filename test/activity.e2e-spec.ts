import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  PurgeService,
  RevocationService,
  SECURITY_EVENT_HANDLER,
  type SecurityEvent,
  type SecurityEventHandler,
} from '../src/auth/index.js';
import { NotificationRepository } from '../src/auth/notifications/notification.repository.js';
import {
  bearer,
  createTestApp,
  login,
  PASSWORD,
  registerAndLogin,
  type TestAppWithDatabase,
  uniqueEmail,
} from './support/test-app.js';

interface EventRow {
  type: string;
  user_id: string | null;
  actor_kind: string;
  actor_id: string | null;
  session_id: string | null;
  ip: string | null;
  network: string | null;
  device_name: string | null;
  details: Record<string, unknown>;
  at: Date;
}

/** The store's rows of a user, oldest first. */
async function storedEvents(t: TestAppWithDatabase, userId: string): Promise<EventRow[]> {
  return t.dataSource.query(`SELECT * FROM auth_events WHERE user_id = $1 ORDER BY at, id`, [userId]);
}

async function activity(t: TestAppWithDatabase, token: string, cursor?: string) {
  const response = await t.http
    .get('/auth/activity')
    .query(cursor === undefined ? {} : { cursor })
    .set(...bearer(token));
  return response;
}

describe('the event store and users’ activity', () => {
  const handled: SecurityEvent[] = [];
  const handler: SecurityEventHandler = { handle: (event) => void handled.push(event) };
  let t: TestAppWithDatabase;

  beforeAll(async () => {
    t = await createTestApp({ overrides: [[SECURITY_EVENT_HANDLER, handler]] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('stores each kind with its actor, address, network and device, and never a secret', async () => {
    const ip = '203.0.113.77';
    const email = uniqueEmail('store');
    const registered = await t.http
      .post('/auth/register')
      .set('X-Forwarded-For', ip)
      .send({ email, password: PASSWORD })
      .expect(201);
    const userId = registered.body.id as string;
    const signedIn = await t.http
      .post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email, password: PASSWORD, deviceName: 'Work laptop' })
      .expect(200);
    await t.http
      .post('/auth/login')
      .set('X-Forwarded-For', '2001:db8:aa:bb::1')
      .send({ email, password: 'not the password' })
      .expect(401);
    const other = await login(t.http, email, 'Phone');
    const newPassword = 'a brand new password!';
    await t.http
      .post('/auth/password')
      .set(...bearer(signedIn.body.accessToken))
      .set('X-Forwarded-For', ip)
      .send({ currentPassword: PASSWORD, newPassword })
      .expect(204);
    await t.http
      .post('/auth/logout-all')
      .set(...bearer(signedIn.body.accessToken))
      .expect(204);

    const rows = await storedEvents(t, userId);
    expect(rows.map((row) => row.type)).toEqual([
      'user_registered',
      'email_verification_requested',
      'login_succeeded',
      'login_failed',
      'login_succeeded',
      // Another device than the first sign-in's: the user was mailed.
      'new_device_alert',
      'password_changed',
      'session_revoked',
      'logout_all',
    ]);
    const [, , first, failed, , , changed, ended] = rows;
    expect(first).toMatchObject({
      actor_kind: 'user',
      actor_id: userId,
      session_id: signedIn.body.sessionId,
      ip,
      network: '203.0.113.0/24',
      device_name: 'Work laptop',
      details: { amr: ['pwd'] },
    });
    expect(failed).toMatchObject({ ip: '2001:db8:aa:bb::1', network: '2001:db8:aa::/48' });
    expect(failed.details).toEqual({ reason: 'bad_credentials' });
    expect(changed).toMatchObject({ session_id: signedIn.body.sessionId, ip });
    expect(ended).toMatchObject({ session_id: other.sessionId, details: { reason: 'password_change' } });
    // The handler got the very same events.
    expect(handled.filter((event) => event.userId === userId).map((event) => event.type)).toEqual(
      rows.map((row) => row.type),
    );
    const everything = JSON.stringify(rows);
    for (const secret of [PASSWORD, newPassword, 'not the password', email, signedIn.body.accessToken]) {
      expect(everything).not.toContain(secret);
    }
    expect(everything).not.toContain(signedIn.body.refreshToken);
  });

  it('writes an event in the transaction of its change: a change rolled back leaves none', async () => {
    const user = await registerAndLogin(t.http);
    const notifications = t.app.get(NotificationRepository);
    // The NOTIFY is the last statement of the logout-all's transaction, after its events.
    const failing = jest.spyOn(notifications, 'notifyIn').mockRejectedValueOnce(new Error('connection lost'));
    try {
      const refused = await t.http.post('/auth/logout-all').set(...bearer(user.accessToken));
      expect(refused.status).toBeGreaterThanOrEqual(500);
    } finally {
      failing.mockRestore();
    }
    expect((await storedEvents(t, user.userId)).map((row) => row.type)).not.toContain('logout_all');
    // Nothing happened: the session still works, and the next logout-all is recorded once.
    await t.http
      .get('/auth/sessions')
      .set(...bearer(user.accessToken))
      .expect(200);
    await t.http
      .post('/auth/logout-all')
      .set(...bearer(user.accessToken))
      .expect(204);
    expect((await storedEvents(t, user.userId)).filter((row) => row.type === 'logout_all')).toHaveLength(1);
  });

  it('records no sign-in for a session not written (a suspended account), only the refusal', async () => {
    const user = await registerAndLogin(t.http);
    const until = new Date(t.clock.now().getTime() + 3_600_000);
    await t.app.get(RevocationService).revokeAllForUser(user.userId, { until });
    await t.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(403);
    const rows = await storedEvents(t, user.userId);
    expect(rows.filter((row) => row.type === 'login_succeeded')).toHaveLength(1);
    expect(rows.at(-1)).toMatchObject({ type: 'login_failed', details: { reason: 'suspended' } });
    expect(rows.find((row) => row.type === 'user_banned')).toMatchObject({
      details: { until: until.toISOString() },
    });
  });

  it('pages a user’s own activity, newest first, 20 at a time, with the current session marked', async () => {
    const user = await registerAndLogin(t.http, uniqueEmail('pages'), 'First device');
    const stranger = await registerAndLogin(t.http);
    for (let n = 0; n < 12; n += 1) {
      t.clock.advance(1);
      await t.http.post('/auth/login').send({ email: user.email, password: 'wrong' }).expect(401);
      // The same device each time: a known one, no alert among the events.
      await login(t.http, user.email, 'First device');
      // The stranger's events interleave with the user's; none shows on the user's pages.
      await t.http
        .post('/auth/login')
        .set('X-Forwarded-For', `198.51.100.${n}`)
        .send({ email: stranger.email, password: 'wrong' })
        .expect(401);
    }
    const first = await activity(t, user.accessToken);
    expect(first.status).toBe(200);
    expect(first.headers['cache-control']).toBe('no-store');
    expect(first.body.events).toHaveLength(20);
    expect(first.body.events[0]).toEqual({
      type: 'login_succeeded',
      at: t.clock.now().toISOString(),
      ip: expect.any(String),
      deviceName: 'First device',
      current: false,
      reason: null,
    });
    expect(first.body.events[1]).toMatchObject({ type: 'login_failed', reason: 'bad_credentials', current: false });
    const second = await activity(t, user.accessToken, first.body.nextCursor);
    expect(second.status).toBe(200);
    expect(second.body.nextCursor).toBeNull();
    const all = [...first.body.events, ...second.body.events];
    // user_registered and login_succeeded of registerAndLogin, then 12 × (failure, sign-in); the
    // verification mail asked for is not the user's concern.
    expect(all).toHaveLength(26);
    expect(all.map((event) => event.type).slice(-2)).toEqual(['login_succeeded', 'user_registered']);
    expect(all.at(-2)).toMatchObject({ current: true, deviceName: 'First device' });
    const times = all.map((event) => Date.parse(event.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // The stranger sees their own only.
    const theirs = await activity(t, stranger.accessToken);
    expect(theirs.body.events.filter((event: { type: string }) => event.type === 'login_failed')).toHaveLength(12);
    expect(theirs.body.events.some((event: { deviceName: string }) => event.deviceName === 'First device')).toBe(false);
    // The user's cursor on the stranger's account: a position, not a key to the user's events.
    const crossed = await activity(t, stranger.accessToken, first.body.nextCursor);
    expect(
      crossed.body.events.every((event: { deviceName: string | null }) => event.deviceName !== 'First device'),
    ).toBe(true);
  });

  it('answers 400 for a cursor it did not give, 401 without a token', async () => {
    const user = await registerAndLogin(t.http);
    for (const cursor of ['nope', 'MTIzNA', Buffer.from('1.2.3').toString('base64url'), 'a'.repeat(100), '']) {
      const response = await activity(t, user.accessToken, cursor);
      expect({ cursor, status: response.status, body: response.body }).toEqual({
        cursor,
        status: 400,
        body: { statusCode: 400, message: 'Invalid cursor', error: 'Bad Request' },
      });
    }
    const twice = await t.http.get('/auth/activity?cursor=a&cursor=b').set(...bearer(user.accessToken));
    expect(twice.status).toBe(400);
    await t.http.get('/auth/activity').expect(401);
  });

  it('purges events older than the retention (90 days by default), and keeps the rest', async () => {
    const user = await registerAndLogin(t.http);
    t.clock.advance(89 * 86_400);
    await t.http.post('/auth/login').send({ email: user.email, password: 'wrong' }).expect(401);
    t.clock.advance(2 * 86_400);
    const result = await t.app.get(PurgeService).purgeExpired();
    expect(result.events).toBeGreaterThanOrEqual(2);
    expect((await storedEvents(t, user.userId)).map((row) => row.type)).toEqual(['login_failed']);
  });
});

describe('eventStore: false', () => {
  const handled: SecurityEvent[] = [];
  let t: TestAppWithDatabase;

  beforeAll(async () => {
    t = await createTestApp({
      config: { eventStore: false },
      overrides: [[SECURITY_EVENT_HANDLER, { handle: (event: SecurityEvent) => void handled.push(event) }]],
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('writes no row; the handler still gets every event, and activity is empty', async () => {
    const user = await registerAndLogin(t.http);
    await t.http.post('/auth/login').send({ email: user.email, password: 'wrong' }).expect(401);
    expect(handled.map((event) => event.type)).toEqual(
      expect.arrayContaining(['user_registered', 'login_succeeded', 'login_failed']),
    );
    expect(await t.dataSource.query('SELECT * FROM auth_events')).toEqual([]);
    const response = await activity(t, user.accessToken);
    expect(response.body).toEqual({ events: [], nextCursor: null });
  });
});
