import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import {
  bearer,
  createTestApp,
  login,
  PASSWORD,
  registerAndLogin,
  type TestAppWithDatabase,
  uniqueEmail,
} from './support/test-app.js';
import { JwtStrategy } from '../src/auth/index.js';

const ACCESS = '__Host-auth_access';
const REFRESH = '__Secure-auth_refresh';
const CSRF_FAILED = { statusCode: 403, message: 'CSRF check failed', error: 'Forbidden' };
/** What a browser on the app's own page sends with a cookie-mode request. */
const SAME_ORIGIN = { 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'http://app.example' };

interface CookieJar {
  access: string;
  refresh: string;
  sessionId: string;
}

function setCookies(response: Response): string[] {
  const header = response.headers['set-cookie'] as unknown as string[] | string | undefined;
  return header === undefined ? [] : Array.isArray(header) ? header : [header];
}

function cookieValue(response: Response, name: string): string | undefined {
  const line = setCookies(response).find((cookie) => cookie.startsWith(`${name}=`));
  return line?.slice(name.length + 1).split(';', 1)[0];
}

describe('cookie transport (X-Auth-Transport: cookie) and its CSRF rules', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp({
      config: { trustedOrigins: ['https://admin.example', 'http://localhost:4200'], accessTokenTtl: 600 },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  async function cookieLogin(email: string, deviceName = 'browser'): Promise<CookieJar> {
    const response = await t.http
      .post('/auth/login')
      .set(SAME_ORIGIN)
      .send({ email, password: PASSWORD, deviceName })
      .expect(200);
    return {
      access: cookieValue(response, ACCESS) as string,
      refresh: cookieValue(response, REFRESH) as string,
      sessionId: response.body.sessionId,
    };
  }

  const withCookies = (jar: Partial<CookieJar>) =>
    [jar.access && `${ACCESS}=${jar.access}`, jar.refresh && `${REFRESH}=${jar.refresh}`].filter(Boolean).join('; ');

  /** Each request (headers × route) with the cookies: 403 `CSRF check failed`, and no cookie set or cleared. */
  async function expectCsrfRefused(
    cookie: string,
    attempts: Array<Record<string, string>>,
    routes: Array<['post' | 'delete', string]>,
  ): Promise<void> {
    for (const headers of attempts) {
      for (const [method, path] of routes) {
        const response = await t.http[method](path).set('Cookie', cookie).set(headers);
        expect({ headers, path, status: response.status, body: response.body }).toEqual({
          headers,
          path,
          status: 403,
          body: CSRF_FAILED,
        });
        expect(setCookies(response)).toEqual([]);
      }
    }
  }

  async function newUser(): Promise<string> {
    const email = uniqueEmail('cookie');
    await t.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    return email;
  }

  it('logs in with the tokens in HttpOnly cookies only, with the specified attributes', async () => {
    const email = await newUser();
    const response = await t.http.post('/auth/login').set(SAME_ORIGIN).send({ email, password: PASSWORD }).expect(200);
    expect(Object.keys(response.body).sort()).toEqual(['emailVerified', 'expiresIn', 'sessionId']);
    expect(response.body.expiresIn).toBe(600);
    expect(response.headers['cache-control']).toBe('no-store');
    const [access, refresh] = setCookies(response);
    expect(access).toMatch(
      new RegExp(`^${ACCESS}=[\\w-]+\\.[\\w-]+\\.[\\w-]+; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$`),
    );
    expect(refresh).toMatch(
      new RegExp(
        `^${REFRESH}=[\\w-]+\\.[\\w-]+\\.[\\w-]+; Path=/auth/refresh; Max-Age=1209600; HttpOnly; Secure; SameSite=Strict$`,
      ),
    );
  });

  it('lets the guard take the access cookie when there is no Authorization header, and never falls back from one', async () => {
    const email = await newUser();
    const jar = await cookieLogin(email);
    // A GET changes nothing: no CSRF header needed.
    const profile = await t.http.get('/profile').set('Cookie', withCookies(jar)).expect(200);
    expect(profile.body.sessionId).toBe(jar.sessionId);
    // A present Authorization header wins, even a broken one.
    await t.http.get('/profile').set('Cookie', withCookies(jar)).set('Authorization', 'Bearer nope').expect(401);
    const other = await login(t.http, email, 'cli');
    const viaHeader = await t.http
      .get('/profile')
      .set('Cookie', withCookies(jar))
      .set(...bearer(other.accessToken));
    expect(viaHeader.body.sessionId).toBe(other.sessionId);
    // Neither header nor cookie.
    expect((await t.http.get('/profile').expect(401)).body.message).toBe('Missing bearer token');
  });

  it('refreshes from the refresh cookie with rotation, grace and theft detection as with bodies', async () => {
    const email = await newUser();
    const jar = await cookieLogin(email);
    const refresh = (token: string) =>
      t.http.post('/auth/refresh').set(SAME_ORIGIN).set('Cookie', `${REFRESH}=${token}`).send({});
    const first = await refresh(jar.refresh).expect(200);
    expect(Object.keys(first.body).sort()).toEqual(['expiresIn', 'sessionId']);
    expect(first.body.sessionId).toBe(jar.sessionId);
    const rotated = cookieValue(first, REFRESH) as string;
    const access = cookieValue(first, ACCESS) as string;
    expect(rotated).not.toBe(jar.refresh);
    await t.http.get('/profile').set('Cookie', `${ACCESS}=${access}`).expect(200);
    // The cookie just rotated out, within the grace period: a plain 401, the session lives.
    await refresh(jar.refresh).expect(401);
    await t.http.get('/profile').set('Cookie', `${ACCESS}=${access}`).expect(200);
    // After the grace period, presenting it again is theft: the session ends.
    t.clock.advance(11);
    await refresh(jar.refresh).expect(401);
    expect((await t.http.get('/profile').set('Cookie', `${ACCESS}=${access}`).expect(401)).body.message).toBe(
      'Token has been revoked',
    );
    await refresh(rotated).expect(401);
    // Without the cookie at all.
    expect((await t.http.post('/auth/refresh').set(SAME_ORIGIN).send({}).expect(401)).body.message).toBe(
      'Missing refresh token cookie',
    );
  });

  it('refuses a cookie-authenticated change without the header, cross-site, or from a foreign Origin: 403, nothing changes', async () => {
    const email = await newUser();
    const jar = await cookieLogin(email);
    const cookie = withCookies(jar);
    const attempts: Array<Record<string, string>> = [
      { Host: 'app.example' },
      { 'X-Auth-Transport': 'bearer', Host: 'app.example' },
      { 'X-Auth-Transport': 'cookie', 'Sec-Fetch-Site': 'cross-site', Host: 'app.example' },
      { 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'http://evil.example' },
      { 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'http://app.example.evil.example' },
      { 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'null' },
    ];
    await expectCsrfRefused(cookie, attempts, [
      ['post', '/auth/logout'],
      ['post', '/auth/logout-all'],
      ['delete', '/auth/sessions'],
      ['delete', `/auth/sessions/${jar.sessionId}`],
    ]);
    // Nothing changed: the session is alive.
    await t.http.get('/profile').set('Cookie', cookie).expect(200);
    // The same from the app's own page, or from a trusted origin, goes through.
    await t.http
      .post('/auth/logout')
      .set('Cookie', cookie)
      .set({
        'X-Auth-Transport': 'cookie',
        Host: 'app.example',
        Origin: 'https://admin.example',
        'Sec-Fetch-Site': 'same-site',
      })
      .expect(204);
  });

  it('compares the port too: an Origin that differs from the app’s own or a trusted one only by its port is refused', async () => {
    const email = await newUser();
    const jar = await cookieLogin(email);
    const cookie = withCookies(jar);
    const other = await cookieLogin(email, 'other');
    // The app at localhost:3000 (its Host); the trusted origins are https://admin.example (port
    // 443) and http://localhost:4200.
    const refused: Array<Record<string, string>> = [
      { Host: 'localhost:3000', Origin: 'http://localhost:3001' },
      { Host: 'localhost:3000', Origin: 'http://localhost' },
      { Host: 'localhost', Origin: 'http://localhost:3000' },
      { Host: 'app.example', Origin: 'http://app.example:8080' },
      { Host: 'localhost:3000', Origin: 'https://admin.example:8443' },
      { Host: 'localhost:3000', Origin: 'http://localhost:4201' },
      { Host: 'localhost:3000', Origin: 'http://localhost:420' },
    ];
    for (const headers of refused) {
      for (const [method, path] of [
        ['post', '/auth/logout-all'],
        ['delete', '/auth/sessions'],
        ['delete', `/auth/sessions/${other.sessionId}`],
      ] as const) {
        const response = await t.http[method](path)
          .set('Cookie', cookie)
          .set({ 'X-Auth-Transport': 'cookie', ...headers });
        expect({ headers, path, status: response.status, body: response.body }).toEqual({
          headers,
          path,
          status: 403,
          body: CSRF_FAILED,
        });
      }
      // Cookie-mode login and refresh go by the same rule, before anything happens.
      const login = await t.http
        .post('/auth/login')
        .set({ 'X-Auth-Transport': 'cookie', ...headers })
        .send({ email, password: PASSWORD });
      expect({ headers, status: login.status, cookies: setCookies(login) }).toEqual({
        headers,
        status: 403,
        cookies: [],
      });
      const refresh = await t.http
        .post('/auth/refresh')
        .set({ 'X-Auth-Transport': 'cookie', ...headers })
        .set('Cookie', `${REFRESH}=${other.refresh}`)
        .send({});
      expect({ headers, status: refresh.status }).toEqual({ headers, status: 403 });
    }
    // Nothing changed: both sessions alive, no login added one, the refresh token unused.
    await t.http.get('/profile').set('Cookie', cookie).expect(200);
    await t.http.get('/profile').set('Cookie', withCookies(other)).expect(200);
    const devices = await t.http.get('/auth/sessions').set('Cookie', cookie).expect(200);
    expect(devices.body).toHaveLength(2);

    // The same origins with the right port go through.
    const refreshed = await t.http
      .post('/auth/refresh')
      .set({ 'X-Auth-Transport': 'cookie', Host: 'localhost:3000', Origin: 'http://localhost:3000' })
      .set('Cookie', `${REFRESH}=${other.refresh}`)
      .send({})
      .expect(200);
    expect(refreshed.body.sessionId).toBe(other.sessionId);
    await t.http
      .delete(`/auth/sessions/${other.sessionId}`)
      .set('Cookie', cookie)
      .set({ 'X-Auth-Transport': 'cookie', Host: 'localhost:3000', Origin: 'http://localhost:4200' })
      .expect(204);
    await t.http
      .post('/auth/logout-all')
      .set('Cookie', cookie)
      .set({ 'X-Auth-Transport': 'cookie', Host: 'app.example:8080', Origin: 'http://app.example:8080' })
      .expect(204);
    const third = await cookieLogin(email, 'third');
    await t.http
      .post('/auth/login')
      .set({ 'X-Auth-Transport': 'cookie', Host: 'localhost:3000', Origin: 'https://admin.example' })
      .send({ email, password: PASSWORD })
      .expect(200);
    await t.http
      .post('/auth/logout')
      .set('Cookie', withCookies(third))
      .set({ 'X-Auth-Transport': 'cookie', Host: 'localhost', Origin: 'http://localhost' })
      .expect(204);
  });

  it('checks CSRF in the guard for a token it has verified before (its fast path): 403, nothing changes', async () => {
    const email = await newUser();
    const jar = await cookieLogin(email);
    const other = await cookieLogin(email, 'other');
    const cookie = withCookies(jar);
    // Used once, legitimately: this instance now knows the token as verified.
    await t.http.get('/profile').set('Cookie', cookie).expect(200);
    const attempts: Array<Record<string, string>> = [
      // Neither the transport header nor an Origin (a plain cross-site form in an old browser).
      { Host: 'app.example' },
      { 'X-Auth-Transport': 'cookie', 'Sec-Fetch-Site': 'cross-site', Host: 'app.example' },
      { 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'http://evil.example' },
      { 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'http://app.example:8080' },
    ];
    await expectCsrfRefused(cookie, attempts, [
      ['post', '/auth/logout'],
      ['post', '/auth/logout-all'],
      ['delete', '/auth/sessions'],
      ['delete', `/auth/sessions/${other.sessionId}`],
      ['delete', `/auth/sessions/${jar.sessionId}`],
    ]);
    // Nothing changed: both sessions work and are listed.
    await t.http.get('/profile').set('Cookie', cookie).expect(200);
    await t.http.get('/profile').set('Cookie', withCookies(other)).expect(200);
    const devices = await t.http.get('/auth/sessions').set('Cookie', cookie).expect(200);
    expect(devices.body.map((device: { id: string }) => device.id).sort()).toEqual(
      [jar.sessionId, other.sessionId].sort(),
    );
  });

  it('refuses a planted refresh cookie: a second one, or one of another session than the access cookie', async () => {
    const email = await newUser();
    const mine = await cookieLogin(email, 'mine');
    const attacker = await cookieLogin(await newUser(), 'attacker');
    const refresh = (cookie: string) => t.http.post('/auth/refresh').set(SAME_ORIGIN).set('Cookie', cookie).send({});
    // Two refresh cookies (one set by a sibling subdomain with a Domain attribute).
    await refresh(`${REFRESH}=${attacker.refresh}; ${REFRESH}=${mine.refresh}`).expect(401);
    // The attacker's refresh cookie beside this browser's own access cookie: another session.
    await refresh(`${ACCESS}=${mine.access}; ${REFRESH}=${attacker.refresh}`).expect(401);
    // Neither was used up: both still rotate once.
    await refresh(`${ACCESS}=${mine.access}; ${REFRESH}=${mine.refresh}`).expect(200);
    await refresh(`${REFRESH}=${attacker.refresh}`).expect(200);
  });

  it('checks CSRF in the passport-jwt strategy too, for hosts that use it without JwtAuthGuard', async () => {
    const email = await newUser();
    const jar = await cookieLogin(email);
    const strategy = t.app.get(JwtStrategy);
    const [, payload] = jar.access.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as object;
    const cookieRequest = (headers: Record<string, string>) => ({
      method: 'POST',
      headers: { cookie: `${ACCESS}=${jar.access}`, host: 'app.example', ...headers },
    });
    await expect(strategy.validate(cookieRequest({}), claims)).rejects.toThrow('CSRF check failed');
    await expect(strategy.validate(cookieRequest({ 'x-auth-transport': 'cookie' }), claims)).resolves.toMatchObject({
      sessionId: jar.sessionId,
    });
  });

  it('applies the same rules to cookie-mode login and refresh, before anything happens', async () => {
    const email = await newUser();
    const before = await t.dataSource.query(
      'SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1',
      [email],
    );
    const refused = await t.http
      .post('/auth/login')
      .set({ 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'http://evil.example' })
      .send({ email, password: PASSWORD })
      .expect(403);
    expect(refused.body).toEqual(CSRF_FAILED);
    expect(setCookies(refused)).toEqual([]);
    const after = await t.dataSource.query(
      'SELECT count(*)::int AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1',
      [email],
    );
    expect(after).toEqual(before);

    const jar = await cookieLogin(email);
    await t.http
      .post('/auth/refresh')
      .set({ 'X-Auth-Transport': 'cookie', 'Sec-Fetch-Site': 'cross-site' })
      .set('Cookie', `${REFRESH}=${jar.refresh}`)
      .send({})
      .expect(403);
    // The refresh token was not used: it still rotates once.
    await t.http.post('/auth/refresh').set(SAME_ORIGIN).set('Cookie', `${REFRESH}=${jar.refresh}`).send({}).expect(200);
  });

  it('leaves bearer requests alone: no CSRF rules without cookies', async () => {
    const user = await registerAndLogin(t.http);
    await t.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .set({ Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site' })
      .expect(204);
  });

  it('clears both cookies on logout, logout-all, signing out this device, and account deletion', async () => {
    const cleared = (response: Response) => {
      const cookies = setCookies(response);
      expect(cookies).toEqual([
        `${ACCESS}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`,
        `${REFRESH}=; Path=/auth/refresh; Max-Age=0; HttpOnly; Secure; SameSite=Strict`,
      ]);
    };
    const email = await newUser();
    let jar = await cookieLogin(email);
    cleared(await t.http.post('/auth/logout').set(SAME_ORIGIN).set('Cookie', withCookies(jar)).expect(204));
    jar = await cookieLogin(email);
    cleared(await t.http.post('/auth/logout-all').set(SAME_ORIGIN).set('Cookie', withCookies(jar)).expect(204));
    jar = await cookieLogin(email);
    const other = await cookieLogin(email, 'other');
    // Signing out another device keeps this one's cookies.
    const another = await t.http
      .delete(`/auth/sessions/${other.sessionId}`)
      .set(SAME_ORIGIN)
      .set('Cookie', withCookies(jar))
      .expect(204);
    expect(setCookies(another)).toEqual([]);
    cleared(
      await t.http
        .delete(`/auth/sessions/${jar.sessionId}`)
        .set(SAME_ORIGIN)
        .set('Cookie', withCookies(jar))
        .expect(204),
    );
    jar = await cookieLogin(email);
    cleared(
      await t.http
        .delete('/auth/account')
        .set(SAME_ORIGIN)
        .set('Cookie', withCookies(jar))
        .send({ password: PASSWORD })
        .expect(204),
    );
  });
});

describe('DELETE /auth/sessions: sign out every other device', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('ends every session of the caller but the current one, at once', async () => {
    const laptop = await registerAndLogin(t.http, undefined, 'laptop');
    const phone = await login(t.http, laptop.email, 'phone');
    const tablet = await login(t.http, laptop.email, 'tablet');
    const stranger = await registerAndLogin(t.http);

    await t.http
      .delete('/auth/sessions')
      .set(...bearer(laptop.accessToken))
      .expect(204);
    for (const device of [phone, tablet]) {
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
      .set(...bearer(laptop.accessToken))
      .expect(200);
    await t.http
      .get('/profile')
      .set(...bearer(stranger.accessToken))
      .expect(200);
    const devices = await t.http
      .get('/auth/sessions')
      .set(...bearer(laptop.accessToken))
      .expect(200);
    expect(devices.body.map((device: { deviceName: string }) => device.deviceName)).toEqual(['laptop']);
    // Nothing else to sign out: still 204.
    await t.http
      .delete('/auth/sessions')
      .set(...bearer(laptop.accessToken))
      .expect(204);
  });
});
