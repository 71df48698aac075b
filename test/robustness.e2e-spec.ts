import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createTestApp,
  registerAndLogin,
  testAdapter,
  type LoggedIn,
  type TestAppWithDatabase,
} from './support/test-app.js';
import { accessClaims, sign } from './support/tokens.js';

describe('odd requests never make a 500', () => {
  let t: TestAppWithDatabase;
  let user: LoggedIn;
  beforeAll(async () => {
    t = await createTestApp();
    user = await registerAndLogin(t.http);
  });
  afterAll(async () => {
    await t.close();
  });

  const b64 = (value: string) => Buffer.from(value).toString('base64url');
  const now = () => t.clock.now().getTime();

  it.each([
    ['a JWT whose payload is a JSON array', () => sign([1, 2, 3] as unknown as Record<string, unknown>)],
    ['a JWT whose payload is not JSON', () => `${b64('{"alg":"HS256","typ":"JWT"}')}.${b64('not json')}.c2ln`],
    [
      'a JWT with a huge exp',
      () => sign({ ...accessClaims({ sub: user.userId, sid: user.sessionId }, now()), exp: 1e308 }),
    ],
    ['an empty bearer', () => ''],
    ['a bearer of 8 kB', () => 'x'.repeat(8_000)],
  ])('%s → 401', async (_name, token) => {
    const response = await t.http.get('/profile').set('Authorization', `Bearer ${token()}`);
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
  });

  it('refuses on a strict route a token (minted with the secret) whose session never existed', async () => {
    // Only the secret's holder can mint one; the database check still knows there is no such session.
    const claims = accessClaims({ sub: user.userId, sid: '00000000-0000-0000-0000-000000000000' }, now());
    await t.http
      .get('/profile/strict')
      .set('Authorization', `Bearer ${sign(claims)}`)
      .expect(401);
  });

  it.each([
    ['a malformed escape', '/auth/sessions/%ZZ', 400],
    ['the nil uuid', '/auth/sessions/00000000-0000-0000-0000-000000000000', 404],
    // Fastify's router refuses a path parameter over 100 characters itself: 414 URI Too Long.
    ['a 2000-character id', '/auth/sessions/' + 'a'.repeat(2_000), testAdapter() === 'fastify' ? 414 : 400],
  ])('DELETE of %s → %i', async (_name, path, status) => {
    const response = await t.http.delete(path).set('Authorization', `Bearer ${user.accessToken}`);
    expect(response.status).toBe(status);
  });

  it('answers unknown routes with 404 in Nest error shape', async () => {
    const response = await t.http.get('/auth/nothing-here').expect(404);
    expect(response.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });

  it('refuses a refresh with a signed token of malformed claims with 401', async () => {
    const claims = { ...accessClaims({ sub: user.userId, sid: 'not-a-uuid' }, now()), typ: 'refresh' };
    await t.http
      .post('/auth/refresh')
      .send({ refreshToken: sign(claims) })
      .expect(401);
  });
});
