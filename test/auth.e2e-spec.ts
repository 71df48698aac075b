import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  bearer,
  createTestApp,
  PASSWORD,
  registerAndLogin,
  type TestAppWithDatabase,
  uniqueEmail,
} from './support/test-app.js';

describe('register, login, me', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('registers, logs in and reads /auth/me', async () => {
    const email = uniqueEmail();
    const registered = await t.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    expect(registered.body).toEqual({ id: expect.any(String), email });
    const login = await t.http.post('/auth/login').send({ email, password: PASSWORD }).expect(200);
    expect(login.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 900,
      sessionId: expect.any(String),
      emailVerified: false,
    });
    const me = await t.http
      .get('/auth/me')
      .set(...bearer(login.body.accessToken))
      .expect(200);
    expect(me.body).toEqual({ id: registered.body.id, email, emailVerified: false });
  });

  it('never stores the password or the refresh token in clear', async () => {
    const user = await registerAndLogin(t.http);
    const [row] = await t.dataSource.query('SELECT password_hash FROM users WHERE id = $1', [user.userId]);
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    const [session] = await t.dataSource.query('SELECT * FROM sessions WHERE id = $1', [user.sessionId]);
    expect(JSON.stringify(session)).not.toContain(user.refreshToken);
    expect(JSON.stringify(session)).not.toContain(PASSWORD);
    expect(session.refresh_token_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a second registration of one email in any letter case with 409', async () => {
    const email = uniqueEmail('Case');
    await t.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const again = await t.http
      .post('/auth/register')
      .send({ email: email.toUpperCase(), password: PASSWORD })
      .expect(409);
    expect(again.body).toEqual({ statusCode: 409, message: 'Email is already registered', error: 'Conflict' });
    // Login is case-insensitive too.
    await t.http.post('/auth/login').send({ email: email.toLowerCase(), password: PASSWORD }).expect(200);
  });

  it('gives exactly one 201 for concurrent registrations of one email', async () => {
    const email = uniqueEmail('race');
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.http.post('/auth/register').send({ email: i % 2 ? email : email.toUpperCase(), password: PASSWORD }),
      ),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const [{ count }] = await t.dataSource.query(
      'SELECT count(*)::int AS count FROM users WHERE lower(email) = lower($1)',
      [email],
    );
    expect(count).toBe(1);
  });

  it('answers 400 for a malformed email or a short password', async () => {
    const badEmail = await t.http
      .post('/auth/register')
      .send({ email: 'not-an-email', password: PASSWORD })
      .expect(400);
    expect(badEmail.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(badEmail.body.message).toContain('email must be a valid email address');
    const shortPassword = await t.http
      .post('/auth/register')
      .send({ email: uniqueEmail(), password: 'short7!' })
      .expect(400);
    expect(shortPassword.body.message).toContain('password must be longer than or equal to 8 characters');
  });

  it('answers unknown email and wrong password alike with 401', async () => {
    const user = await registerAndLogin(t.http);
    const wrong = await t.http.post('/auth/login').send({ email: user.email, password: 'wrong password' }).expect(401);
    const unknown = await t.http
      .post('/auth/login')
      .send({ email: uniqueEmail('nobody'), password: PASSWORD })
      .expect(401);
    expect(wrong.body).toEqual(unknown.body);
    expect(wrong.body).toEqual({ statusCode: 401, message: 'Invalid email or password', error: 'Unauthorized' });
  });

  it('records the device name, user agent and IP of a login in a new session row', async () => {
    const user = await registerAndLogin(t.http);
    const response = await t.http
      .post('/auth/login')
      .set('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0')
      .send({ email: user.email, password: PASSWORD, deviceName: 'Work laptop' })
      .expect(200);
    const [session] = await t.dataSource.query('SELECT * FROM sessions WHERE id = $1', [response.body.sessionId]);
    expect(session).toMatchObject({
      user_id: user.userId,
      device_name: 'Work laptop',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      revoked_at: null,
    });
    expect(session.ip).toMatch(/127\.0\.0\.1|::1/);
    // The end is on the module's clock; the sign-in time is the database's (the clock of cut-offs).
    expect(session.expires_at.getTime()).toBe(t.clock.now().getTime() + 2_592_000 * 1000);
    const [{ now }] = await t.dataSource.query('SELECT now() AS now');
    expect(Math.abs(now.getTime() - session.created_at.getTime())).toBeLessThan(60_000);
  });

  it('guards /profile and keeps /health public', async () => {
    const user = await registerAndLogin(t.http);
    const profile = await t.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(profile.body).toEqual({ userId: user.userId, sessionId: user.sessionId });
    const strict = await t.http
      .get('/profile/strict')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(strict.body).toEqual({ userId: user.userId, sessionId: user.sessionId });
    const missing = await t.http.get('/profile').expect(401);
    expect(missing.body).toEqual({ statusCode: 401, message: 'Missing bearer token', error: 'Unauthorized' });
    await t.http.get('/health').expect(200, { status: 'ok' });
  });
});
