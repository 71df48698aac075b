import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  bearer,
  createTestApp,
  type LoggedIn,
  registerAndLogin,
  type TestAppWithDatabase,
} from './support/test-app.js';
import { accessClaims, decode, sign, unsignedToken } from './support/tokens.js';

describe('forged and malformed tokens are refused', () => {
  let t: TestAppWithDatabase;
  let user: LoggedIn;
  beforeAll(async () => {
    t = await createTestApp();
    user = await registerAndLogin(t.http);
  });
  afterAll(async () => {
    await t.close();
  });

  const base = () => ({ sub: user.userId, sid: user.sessionId });
  const expectInvalid = async (token: string, message = 'Invalid token') => {
    const response = await t.http
      .get('/profile')
      .set(...bearer(token))
      .expect(401);
    expect(response.body).toEqual({ statusCode: 401, message, error: 'Unauthorized' });
  };

  it('accepts a well-formed token signed with the secret (the forgeries below differ only as named)', async () => {
    await t.http
      .get('/profile')
      .set(...bearer(sign(accessClaims(base(), t.clock.now().getTime()))))
      .expect(200);
  });

  it('issues tokens with every claim the guard checks', () => {
    const claims = decode(user.accessToken);
    expect(Object.keys(claims).sort()).toEqual([
      'amr',
      'auth_time',
      'auth_time_ms',
      'exp',
      'iat',
      'iat_ms',
      'jti',
      'sid',
      'sub',
      'typ',
    ]);
    expect(claims).toMatchObject({ sub: user.userId, sid: user.sessionId, typ: 'access' });
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    expect(decode(user.refreshToken)).toMatchObject({ typ: 'refresh', sid: user.sessionId });
  });

  it('refuses alg "none"', async () => {
    await expectInvalid(unsignedToken(accessClaims(base(), t.clock.now().getTime())));
  });

  it('refuses a token signed with another secret', async () => {
    await expectInvalid(sign(accessClaims(base(), t.clock.now().getTime()), 'another-secret-another-secret-another!!'));
  });

  it('refuses a token signed with another HMAC algorithm than the pinned one', async () => {
    await expectInvalid(sign(accessClaims(base(), t.clock.now().getTime()), undefined, 'HS512'));
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = user.accessToken.split('.');
    const payload = { ...decode(user.accessToken), sub: '00000000-0000-4000-8000-000000000000' };
    await expectInvalid(`${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`);
  });

  it.each(['sub', 'sid', 'jti', 'typ', 'iat', 'iat_ms', 'exp'])('refuses a token without %s', async (claim) => {
    const claims = accessClaims(base(), t.clock.now().getTime());
    delete claims[claim];
    await expectInvalid(sign(claims));
  });

  it('refuses malformed claims', async () => {
    const now = t.clock.now().getTime();
    await expectInvalid(sign({ ...accessClaims(base(), now), sub: 'admin' }));
    await expectInvalid(sign({ ...accessClaims(base(), now), iat: '1700000000' }));
    await expectInvalid(sign({ ...accessClaims(base(), now), iat_ms: now + 5000 }));
    await expectInvalid(sign({ ...accessClaims(base(), now), role: 'admin' }));
  });

  it('refuses a refresh token used as a bearer token', async () => {
    await expectInvalid(user.refreshToken);
  });

  it('refuses a token that lives longer than the configured lifetime', async () => {
    await expectInvalid(sign(accessClaims(base(), t.clock.now().getTime(), 901)));
  });

  it('refuses a token issued in the future', async () => {
    await expectInvalid(sign(accessClaims(base(), t.clock.now().getTime() + 60_000)));
  });

  it('refuses an expired token with "Token has expired"', async () => {
    const token = sign(accessClaims(base(), t.clock.now().getTime()));
    await t.http
      .get('/profile')
      .set(...bearer(token))
      .expect(200);
    t.clock.advance(899);
    await t.http
      .get('/profile')
      .set(...bearer(token))
      .expect(200);
    t.clock.advance(1);
    await expectInvalid(token, 'Token has expired');
  });
});
