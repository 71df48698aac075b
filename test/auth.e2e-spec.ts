import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bearer, createTestApp, PASSWORD, registerAndLogin, type TestAppWithDatabase, uniqueEmail } from './support/test-app.js';

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
    });
    const me = await t.http.get('/auth/me').set(...bearer(login.body.accessToken)).expect(200);
    expect(me.body).toEqual({ id: registered.body.id, email });
  });

  it('guards /profile', async () => {
    const user = await registerAndLogin(t.http);
    const profile = await t.http.get('/profile').set(...bearer(user.accessToken)).expect(200);
    expect(profile.body).toEqual({ userId: user.userId, sessionId: user.sessionId });
    const missing = await t.http.get('/profile').expect(401);
    expect(missing.body).toEqual({ statusCode: 401, message: 'Missing bearer token', error: 'Unauthorized' });
  });
});
