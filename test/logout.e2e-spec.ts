import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bearer, createTestApp, login, registerAndLogin, type TestAppWithDatabase } from './support/test-app.js';
import { decode } from './support/tokens.js';

const REVOKED = { statusCode: 401, message: 'Token has been revoked', error: 'Unauthorized' };

describe('logout and logout-all', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const profile = (token: string) => t.http.get('/profile').set(...bearer(token));
  const refresh = (refreshToken: string) => t.http.post('/auth/refresh').send({ refreshToken });

  it('logout revokes the current session at once and leaves the others alone', async () => {
    const phone = await registerAndLogin(t.http, undefined, 'phone');
    const laptop = await login(t.http, phone.email, 'laptop');
    await profile(phone.accessToken).expect(200);

    await t.http
      .post('/auth/logout')
      .set(...bearer(phone.accessToken))
      .expect(204);

    expect((await profile(phone.accessToken).expect(401)).body).toEqual(REVOKED);
    expect((await refresh(phone.refreshToken).expect(401)).body).toEqual(REVOKED);
    await profile(laptop.accessToken).expect(200);
    await refresh(laptop.refreshToken).expect(200);
  });

  it('puts the presenting token on the denylist with its own expiry', async () => {
    const user = await registerAndLogin(t.http);
    await t.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    const claims = decode(user.accessToken);
    const rows = await t.dataSource.query('SELECT * FROM revoked_tokens WHERE jti = $1', [claims.jti]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ user_id: user.userId, reason: 'logout' });
    expect(rows[0].expires_at.getTime()).toBe((claims.exp as number) * 1000);
    const [session] = await t.dataSource.query('SELECT revoked_at, revoked_reason FROM sessions WHERE id = $1', [
      user.sessionId,
    ]);
    expect(session.revoked_reason).toBe('logout');
  });

  it('answers a second logout with 401', async () => {
    const user = await registerAndLogin(t.http);
    await t.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    expect(
      (
        await t.http
          .post('/auth/logout')
          .set(...bearer(user.accessToken))
          .expect(401)
      ).body,
    ).toEqual(REVOKED);
  });

  it('logout-all revokes every access and refresh token of the user, with one row of users updated', async () => {
    const first = await registerAndLogin(t.http);
    const devices = [first, await login(t.http, first.email), await login(t.http, first.email)];
    const rotated = await refresh(devices[2].refreshToken).expect(200);
    const bystander = await registerAndLogin(t.http);
    // Tokens count as issued before the logout-all when at least a millisecond before it.
    t.clock.advance(0.001);

    await t.http
      .post('/auth/logout-all')
      .set(...bearer(devices[1].accessToken))
      .expect(204);

    for (const device of devices) {
      expect((await profile(device.accessToken).expect(401)).body).toEqual(REVOKED);
      expect((await refresh(device.refreshToken).expect(401)).body).toEqual(REVOKED);
    }
    await profile(rotated.body.accessToken).expect(401);
    await refresh(rotated.body.refreshToken).expect(401);
    // The cut-off is the database's clock, after every sign-in of the user's sessions.
    const [user] = await t.dataSource.query(
      `SELECT u.tokens_valid_after, max(s.created_at) AS last_sign_in
         FROM users u JOIN sessions s ON s.user_id = u.id WHERE u.id = $1 GROUP BY u.id`,
      [first.userId],
    );
    expect(user.tokens_valid_after.getTime()).toBeGreaterThan(user.last_sign_in.getTime());
    // One row, whatever the number of sessions: the session rows themselves are not rewritten,
    // yet none of them is listed as active any more.
    const [{ count }] = await t.dataSource.query(
      'SELECT count(*)::int AS count FROM sessions WHERE user_id = $1 AND revoked_at IS NOT NULL',
      [first.userId],
    );
    expect(count).toBe(0);
    // Another user is untouched.
    await profile(bystander.accessToken).expect(200);
  });

  it('lets a login in the same second right after logout-all work, while older tokens of that second stay dead', async () => {
    // Freeze the clock mid-second: the old token, logout-all and the new login share one iat.
    const second = Math.floor(Date.now() / 1000) * 1000;
    t.clock.set(new Date(second + 100));
    const before = await registerAndLogin(t.http);
    t.clock.set(new Date(second + 400));
    await t.http
      .post('/auth/logout-all')
      .set(...bearer(before.accessToken))
      .expect(204);
    t.clock.set(new Date(second + 401));
    const after = await login(t.http, before.email);
    expect(decode(after.accessToken).iat).toBe(decode(before.accessToken).iat);

    await profile(after.accessToken).expect(200);
    await refresh(after.refreshToken).expect(200);
    await profile(before.accessToken).expect(401);
  });

  it('refuses, on a strict route, a token issued before tokens_valid_after even if its session were still open', async () => {
    // The cut-off alone must revoke tokens, not only the session flags. Written here by hand in SQL,
    // without the NOTIFY the services send, so only the database check (strict) can see it.
    const user = await registerAndLogin(t.http);
    await t.dataSource.query(
      `UPDATE users SET tokens_valid_after = clock_timestamp() + interval '1 millisecond' WHERE id = $1`,
      [user.userId],
    );
    const strict = await t.http
      .get('/profile/strict')
      .set(...bearer(user.accessToken))
      .expect(401);
    expect(strict.body).toEqual(REVOKED);
    expect((await refresh(user.refreshToken).expect(401)).body).toEqual(REVOKED);
  });
});
