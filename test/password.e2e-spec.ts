import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  bearer,
  createTestApp,
  login,
  PASSWORD,
  registerAndLogin,
  type TestAppWithDatabase,
} from './support/test-app.js';

const NEW_PASSWORD = 'a brand new passphrase';

describe('password change', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const change = (token: string, body: object, ip = '192.0.2.10') =>
    t.http
      .post('/auth/password')
      .set(...bearer(token))
      .set('X-Forwarded-For', ip)
      .send(body);

  it('revokes every other session at once, keeps the current one, and swaps the password', async () => {
    const current = await registerAndLogin(t.http);
    const other = await login(t.http, current.email, 'other device');
    const third = await login(t.http, current.email, 'third device');

    await change(current.accessToken, { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }).expect(204);

    for (const device of [other, third]) {
      expect(
        (
          await t.http
            .get('/profile')
            .set(...bearer(device.accessToken))
            .expect(401)
        ).body.message,
      ).toBe('Token has been revoked');
      await t.http.post('/auth/refresh').send({ refreshToken: device.refreshToken }).expect(401);
    }
    await t.http
      .get('/profile')
      .set(...bearer(current.accessToken))
      .expect(200);
    await t.http.post('/auth/refresh').send({ refreshToken: current.refreshToken }).expect(200);

    await t.http.post('/auth/login').send({ email: current.email, password: PASSWORD }).expect(401);
    await t.http.post('/auth/login').send({ email: current.email, password: NEW_PASSWORD }).expect(200);
    const [row] = await t.dataSource.query('SELECT password_hash FROM users WHERE id = $1', [current.userId]);
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
  });

  it('answers a wrong current password with 401 and changes nothing', async () => {
    const user = await registerAndLogin(t.http);
    const other = await login(t.http, user.email);
    const response = await change(user.accessToken, {
      currentPassword: 'not my password',
      newPassword: NEW_PASSWORD,
    }).expect(401);
    expect(response.body).toEqual({ statusCode: 401, message: 'Current password is incorrect', error: 'Unauthorized' });
    await t.http
      .get('/profile')
      .set(...bearer(other.accessToken))
      .expect(200);
    await t.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
  });

  it('answers a new password that fails the policy with 400 and changes nothing', async () => {
    const user = await registerAndLogin(t.http);
    for (const newPassword of ['short', 'x'.repeat(257), 12345678]) {
      const response = await change(user.accessToken, { currentPassword: PASSWORD, newPassword }).expect(400);
      expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    }
    await change(user.accessToken, { currentPassword: PASSWORD }).expect(400);
    await t.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
  });

  it('counts wrong current passwords as failed logins', async () => {
    const user = await registerAndLogin(t.http);
    for (let i = 0; i < 5; i += 1) {
      await change(user.accessToken, { currentPassword: `wrong ${i}`, newPassword: NEW_PASSWORD }, '192.0.2.77').expect(
        401,
      );
    }
    const throttled = await change(
      user.accessToken,
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      '192.0.2.77',
    );
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('900');
    await t.http
      .post('/auth/login')
      .set('X-Forwarded-For', '192.0.2.77')
      .send({ email: user.email, password: PASSWORD })
      .expect(429);
  });

  it('needs a token', async () => {
    await t.http.post('/auth/password').send({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }).expect(401);
  });
});
