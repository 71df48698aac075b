import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  bearer,
  createTestApp,
  login,
  PASSWORD,
  registerAndLogin,
  type TestAppWithDatabase,
} from './support/test-app.js';

const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI_IOS =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

describe('devices: list and revoke sessions', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const list = (token: string) => t.http.get('/auth/sessions').set(...bearer(token));
  const loginWith = (email: string, userAgent: string, ip: string, deviceName?: string) =>
    t.http
      .post('/auth/login')
      .set('User-Agent', userAgent)
      .set('X-Forwarded-For', ip)
      .send({ email, password: PASSWORD, deviceName })
      .expect(200)
      .then((response) => response.body as { accessToken: string; refreshToken: string; sessionId: string });

  it('lists the active sessions with readable device names, marking the current one', async () => {
    const first = await registerAndLogin(t.http);
    const laptop = await loginWith(first.email, FIREFOX_LINUX, '203.0.113.7');
    const phone = await loginWith(first.email, SAFARI_IOS, '198.51.100.23', 'My phone');
    await t.http
      .post('/auth/logout')
      .set(...bearer(first.accessToken))
      .expect(204);

    const response = await list(laptop.accessToken).expect(200);
    const byId = Object.fromEntries(response.body.map((entry: { id: string }) => [entry.id, entry]));
    expect(Object.keys(byId).sort()).toEqual([laptop.sessionId, phone.sessionId].sort());
    expect(byId[laptop.sessionId]).toEqual({
      id: laptop.sessionId,
      deviceName: 'Firefox on Linux',
      userAgent: FIREFOX_LINUX,
      ip: '203.0.113.7',
      createdAt: expect.any(String),
      lastUsedAt: t.clock.now().toISOString(),
      current: true,
    });
    // Sign-in time: the database's clock, within this test's run.
    const [{ now }] = await t.dataSource.query('SELECT now() AS now');
    expect(now.getTime() - Date.parse(byId[laptop.sessionId].createdAt)).toBeLessThan(60_000);
    expect(byId[phone.sessionId]).toMatchObject({ deviceName: 'My phone', ip: '198.51.100.23', current: false });

    const seenFromPhone = await list(phone.accessToken).expect(200);
    const current = seenFromPhone.body.filter((entry: { current: boolean }) => entry.current);
    expect(current.map((entry: { id: string }) => entry.id)).toEqual([phone.sessionId]);

    // Nothing that authenticates appears in the list.
    const text = JSON.stringify(response.body);
    for (const secret of [laptop.accessToken, laptop.refreshToken, phone.refreshToken, 'hash', 'Hash']) {
      expect(text).not.toContain(secret);
    }
  });

  it('signs one device out: its access and refresh tokens get 401 at once, the others work', async () => {
    const first = await registerAndLogin(t.http);
    const lost = await login(t.http, first.email, 'lost phone');
    await t.http
      .get('/profile')
      .set(...bearer(lost.accessToken))
      .expect(200);

    await t.http
      .delete(`/auth/sessions/${lost.sessionId}`)
      .set(...bearer(first.accessToken))
      .expect(204);

    const revoked = await t.http
      .get('/profile')
      .set(...bearer(lost.accessToken))
      .expect(401);
    expect(revoked.body.message).toBe('Token has been revoked');
    await t.http.post('/auth/refresh').send({ refreshToken: lost.refreshToken }).expect(401);
    await t.http
      .get('/profile')
      .set(...bearer(first.accessToken))
      .expect(200);
    await t.http.post('/auth/refresh').send({ refreshToken: first.refreshToken }).expect(200);
    const remaining = (await list(first.accessToken).expect(200)).body.map((entry: { id: string }) => entry.id);
    expect(remaining).toEqual([first.sessionId]);
  });

  it("answers 404 for another user's session and changes nothing", async () => {
    const alice = await registerAndLogin(t.http);
    const bob = await registerAndLogin(t.http);
    const response = await t.http
      .delete(`/auth/sessions/${bob.sessionId}`)
      .set(...bearer(alice.accessToken))
      .expect(404);
    expect(response.body).toEqual({ statusCode: 404, message: 'Session not found', error: 'Not Found' });
    await t.http
      .get('/profile')
      .set(...bearer(bob.accessToken))
      .expect(200);
    const [row] = await t.dataSource.query('SELECT revoked_at FROM sessions WHERE id = $1', [bob.sessionId]);
    expect(row.revoked_at).toBeNull();
  });

  it('answers 404 for a session that does not exist, or no longer, and 400 for a malformed id', async () => {
    const user = await registerAndLogin(t.http);
    await t.http
      .delete('/auth/sessions/3f1c1e9e-8d2a-4c55-9a7e-1d2b3c4d5e6f')
      .set(...bearer(user.accessToken))
      .expect(404);
    const other = await login(t.http, user.email);
    await t.http
      .delete(`/auth/sessions/${other.sessionId}`)
      .set(...bearer(user.accessToken))
      .expect(204);
    await t.http
      .delete(`/auth/sessions/${other.sessionId}`)
      .set(...bearer(user.accessToken))
      .expect(404);
    const malformed = await t.http
      .delete('/auth/sessions/not-a-uuid')
      .set(...bearer(user.accessToken))
      .expect(400);
    expect(malformed.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    await t.http
      .delete("/auth/sessions/1' OR '1'='1")
      .set(...bearer(user.accessToken))
      .expect(400);
  });

  it('lists none of the sessions a logout-all ended, and cannot revoke them again', async () => {
    const old = await registerAndLogin(t.http);
    const older = await login(t.http, old.email);
    t.clock.advance(0.001);
    await t.http
      .post('/auth/logout-all')
      .set(...bearer(old.accessToken))
      .expect(204);
    const fresh = await login(t.http, old.email, 'after');
    const listed = (await list(fresh.accessToken).expect(200)).body.map((entry: { id: string }) => entry.id);
    expect(listed).toEqual([fresh.sessionId]);
    await t.http
      .delete(`/auth/sessions/${older.sessionId}`)
      .set(...bearer(fresh.accessToken))
      .expect(404);
  });

  it('needs a token', async () => {
    await t.http.get('/auth/sessions').expect(401);
    await t.http.delete('/auth/sessions/3f1c1e9e-8d2a-4c55-9a7e-1d2b3c4d5e6f').expect(401);
  });

  it('updates lastUsedAt on refresh, and on guarded requests at most once a minute', async () => {
    const user = await registerAndLogin(t.http);
    const lastUsed = async () =>
      (
        (await t.dataSource.query('SELECT last_used_at FROM sessions WHERE id = $1', [user.sessionId]))[0]
          .last_used_at as Date
      ).getTime();
    // Every UPDATE of a row makes a new row version with a new xmin, so an unchanged xmin proves no write.
    const rowVersion = async () =>
      String((await t.dataSource.query('SELECT xmin::text AS v FROM sessions WHERE id = $1', [user.sessionId]))[0].v);
    const loginAt = t.clock.now().getTime();

    t.clock.advance(30);
    const versionAfterLogin = await rowVersion();
    for (let i = 0; i < 20; i += 1)
      await t.http
        .get('/profile')
        .set(...bearer(user.accessToken))
        .expect(200);
    expect(await lastUsed()).toBe(loginAt);
    expect(await rowVersion()).toBe(versionAfterLogin);

    t.clock.advance(31);
    await t.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(await lastUsed()).toBe(t.clock.now().getTime());
    const versionAfterTouch = await rowVersion();
    for (let i = 0; i < 20; i += 1)
      await t.http
        .get('/profile')
        .set(...bearer(user.accessToken))
        .expect(200);
    expect(await lastUsed()).toBe(loginAt + 61_000);
    expect(await rowVersion()).toBe(versionAfterTouch);

    t.clock.advance(5);
    const refreshed = await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
    expect(refreshed.body.sessionId).toBe(user.sessionId);
    expect(await lastUsed()).toBe(t.clock.now().getTime());
  });
});
