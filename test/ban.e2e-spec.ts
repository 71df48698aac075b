import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RevocationService } from '../src/auth/index.js';
import { bearer, createTestApp, PASSWORD, registerAndLogin, type TestAppWithDatabase } from './support/test-app.js';

describe('revokeAllForUser and timed bans', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  const loginAs = (email: string, password = PASSWORD) => t.http.post('/auth/login').send({ email, password });

  it('without until: every token dies with one row update, and a new login right after works', async () => {
    const user = await registerAndLogin(t.http);
    t.clock.advance(0.001);
    expect(await t.app.get(RevocationService).revokeAllForUser(user.userId)).toBe(true);
    await t.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(401);
    await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
    const again = await loginAs(user.email).expect(200);
    await t.http
      .get('/profile')
      .set(...bearer(again.body.accessToken))
      .expect(200);
  });

  it('with until: 403 saying until when, login again from that instant, and no old token returns', async () => {
    const user = await registerAndLogin(t.http);
    const until = new Date(t.clock.now().getTime() + 3_600_000);
    await t.app.get(RevocationService).revokeAllForUser(user.userId, { until });

    await t.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(401);
    const refused = await loginAs(user.email).expect(403);
    expect(refused.body).toEqual({
      statusCode: 403,
      message: `Account suspended until ${until.toISOString()}`,
      error: 'Forbidden',
    });
    // The suspension is only told to someone who knows the password.
    await loginAs(user.email, 'not the password').expect(401);

    t.clock.set(new Date(until.getTime() - 1));
    await loginAs(user.email).expect(403);
    t.clock.set(until);
    const after = await loginAs(user.email).expect(200);
    await t.http
      .get('/profile')
      .set(...bearer(after.body.accessToken))
      .expect(200);
    await t.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(401);
    await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
  });

  it('a logout-all during a ban does not shorten it', async () => {
    const user = await registerAndLogin(t.http);
    const until = new Date(t.clock.now().getTime() + 600_000);
    const second = await loginAs(user.email).expect(200);
    await t.app.get(RevocationService).revokeAllForUser(user.userId, { until });
    // Its token is dead already; the cut-off must stay at `until` whatever else revokes.
    await t.app.get(RevocationService).revokeAllForUser(user.userId);
    await loginAs(user.email).expect(403);
    await t.http
      .get('/profile')
      .set(...bearer(second.body.accessToken))
      .expect(401);
  });

  it('answers false for an unknown user', async () => {
    expect(await t.app.get(RevocationService).revokeAllForUser('6f0d6b3e-3b8e-4b7e-9d61-6d9a3f0e2c11')).toBe(false);
  });
});
