import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from './support/fake-clock.js';
import { codeAt, enableTotp, passwordStep, wrongCodeAt } from './support/mfa.js';
import {
  bearer,
  PASSWORD,
  registerAndLogin,
  startTwoInstances,
  statusOf,
  type TwoInstances,
} from './support/test-app.js';
import { decode } from './support/tokens.js';
import { PurgeService, RevocationService } from '../src/auth/index.js';
import { eventually } from './support/latch.js';
import { TestMailServer, tokenIn } from './support/mail.js';

/** What a browser on the app's own page sends with a cookie-mode request. */
const SAME_ORIGIN = { 'X-Auth-Transport': 'cookie', Host: 'app.example', Origin: 'http://app.example' };

function setCookies(response: { headers: Record<string, unknown> }): string[] {
  const header = response.headers['set-cookie'] as string[] | string | undefined;
  return header === undefined ? [] : Array.isArray(header) ? header : [header];
}

describe('Second factor: TOTP, recovery codes and the two-step login', () => {
  let clock: FakeClock;
  let instances: TwoInstances;

  let mail: TestMailServer;

  beforeAll(async () => {
    clock = new FakeClock();
    mail = await TestMailServer.start();
    instances = await startTwoInstances(clock, { smtpUrl: mail.url });
  });

  afterAll(async () => {
    await instances.close();
    await mail.down();
  });

  it('sets up an app (pending until a code turns it on), then asks every login for a code', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    await a.http
      .get('/auth/mfa')
      .set(...bearer(user.accessToken))
      .expect(200, { totp: false, passkeys: 0, recoveryCodesLeft: 0 });

    const setup = await a.http
      .post('/auth/mfa/totp/setup')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(Object.keys(setup.body).sort()).toEqual(['otpauthUrl', 'secret']);
    expect(setup.body.secret).toMatch(/^[A-Z2-7]{32}$/);
    const url = new URL(setup.body.otpauthUrl);
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(url.searchParams.get('secret')).toBe(setup.body.secret);
    expect(url.searchParams.get('issuer')).toBe('nest-jwt-revocation example');
    expect(decodeURIComponent(url.pathname)).toContain(user.email);
    // Pending: a login still signs in with the password alone.
    const pending = await a.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    expect(pending.body.accessToken).toEqual(expect.any(String));

    // A wrong code turns nothing on.
    const wrong = await a.http
      .post('/auth/mfa/totp/enable')
      .set(...bearer(user.accessToken))
      .send({ code: wrongCodeAt(setup.body.secret, clock.now()) })
      .expect(400);
    expect(wrong.body).toEqual({ statusCode: 400, message: 'Invalid code', error: 'Bad Request' });
    // A code of a step long gone (stale) neither.
    await a.http
      .post('/auth/mfa/totp/enable')
      .set(...bearer(user.accessToken))
      .send({ code: codeAt(setup.body.secret, new Date(clock.now().getTime() - 120_000)) })
      .expect(400, { statusCode: 400, message: 'Invalid code', error: 'Bad Request' });
    await a.http
      .get('/auth/mfa')
      .set(...bearer(user.accessToken))
      .expect(200, { totp: false, passkeys: 0, recoveryCodesLeft: 0 });

    const enabled = await a.http
      .post('/auth/mfa/totp/enable')
      .set(...bearer(user.accessToken))
      .send({ code: codeAt(setup.body.secret, clock.now()) })
      .expect(200);
    expect(enabled.headers['cache-control']).toBe('no-store');
    expect(enabled.body.recoveryCodes).toHaveLength(10);
    expect(new Set(enabled.body.recoveryCodes).size).toBe(10);
    await b.http
      .get('/auth/mfa')
      .set(...bearer(user.accessToken))
      .expect(200, { totp: true, passkeys: 0, recoveryCodesLeft: 10 });
    // On: setting up again is refused until it is turned off.
    await a.http
      .post('/auth/mfa/totp/setup')
      .set(...bearer(user.accessToken))
      .expect(409);

    clock.advance(30);
    // The password alone: no token, the second step instead (on the other instance too).
    const first = await b.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    expect(first.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), methods: ['totp', 'recovery_code'] });
    expect(first.body).not.toHaveProperty('accessToken');
    const signedIn = await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: first.body.mfaToken, code: codeAt(setup.body.secret, clock.now()) })
      .expect(200);
    expect(signedIn.headers['cache-control']).toBe('no-store');
    expect(Object.keys(signedIn.body).sort()).toEqual([
      'accessToken',
      'emailVerified',
      'expiresIn',
      'refreshToken',
      'sessionId',
      'tokenType',
    ]);
    const claims = decode(signedIn.body.accessToken);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims.auth_time).toBe(Math.floor(clock.now().getTime() / 1000));
    expect(await statusOf(b, signedIn.body.accessToken, '/profile/secure')).toBe(200);
    // The session that signed in with the password alone has not shown a second factor.
    expect(await statusOf(b, user.accessToken, '/profile/secure')).toBe(403);
  });

  it('accepts a code once: the same code on another mfaToken, on the other instance, is refused', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const code = codeAt(secret, clock.now());
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(a.http, user.email), code })
      .expect(200);
    const replay = await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(b.http, user.email), code });
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({ statusCode: 401, message: 'Invalid code', error: 'Unauthorized' });
    // The code of the step before is spent with it (a step at or before the last one used).
    const earlier = codeAt(secret, new Date(clock.now().getTime() - 30_000));
    await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(b.http, user.email), code: earlier })
      .expect(401);
    // The next step's code is good.
    clock.advance(30);
    await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(b.http, user.email), code: codeAt(secret, clock.now()) })
      .expect(200);
  });

  it('takes a recovery code once, in any spelling; new codes void the old ones', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const { recoveryCodes } = await enableTotp(a.http, user.accessToken, clock);
    const [first, second] = recoveryCodes;
    expect(first).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    const signedIn = await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(a.http, user.email), recoveryCode: ` ${first.toUpperCase()} ` })
      .expect(200);
    expect(decode(signedIn.body.accessToken).amr).toEqual(['pwd', 'otp', 'mfa']);
    await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(b.http, user.email), recoveryCode: first })
      .expect(401, { statusCode: 401, message: 'Invalid code', error: 'Unauthorized' });
    await a.http
      .get('/auth/mfa')
      .set(...bearer(user.accessToken))
      .expect(200, { totp: true, passkeys: 0, recoveryCodesLeft: 9 });

    const fresh = await a.http
      .post('/auth/mfa/recovery-codes')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(fresh.body.recoveryCodes).toHaveLength(10);
    expect(fresh.body.recoveryCodes).not.toContain(second);
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(a.http, user.email), recoveryCode: second })
      .expect(401);
    await a.http
      .post('/auth/login/mfa')
      .send({
        mfaToken: await passwordStep(a.http, user.email),
        recoveryCode: fresh.body.recoveryCodes[0].replaceAll('-', ' '),
      })
      .expect(200);
  });

  it('an mfaToken is single use, lives five minutes, and dies at its fifth wrong code', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const expired = 'Invalid or expired mfaToken: sign in again';

    const used = await passwordStep(a.http, user.email);
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: used, code: codeAt(secret, clock.now()) })
      .expect(200);
    clock.advance(30);
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: used, code: codeAt(secret, clock.now()) })
      .expect(401, { statusCode: 401, message: expired, error: 'Unauthorized' });

    const old = await passwordStep(a.http, user.email);
    clock.advance(301);
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: old, code: codeAt(secret, clock.now()) })
      .expect(401, {
        statusCode: 401,
        message: expired,
        error: 'Unauthorized',
      });

    // Not an access token anywhere.
    expect(await statusOf(a, old, '/profile')).toBe(401);
    await a.http.post('/auth/refresh').send({ refreshToken: old }).expect(401);

    clock.advance(900); // past the throttle's window: the failures above are forgotten
    const guessed = await passwordStep(a.http, user.email);
    for (let i = 0; i < 4; i += 1) {
      await a.http
        .post('/auth/login/mfa')
        .send({ mfaToken: guessed, code: wrongCodeAt(secret, clock.now()) })
        .expect(401);
    }
    // A fresh mfaToken (the right password is no failure, and clears none)...
    const another = await passwordStep(a.http, user.email);
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: another, code: wrongCodeAt(secret, clock.now()) })
      .expect(401);
    // ...but the throttle counts the wrong codes of every token: five from this client lock it.
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: another, code: codeAt(secret, clock.now()) })
      .expect(429);
    await a.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(429);
  });

  it('a token dies at its fifth wrong code even from many clients', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const mfaToken = await passwordStep(a.http, user.email);
    for (let i = 0; i < 5; i += 1) {
      await a.http
        .post('/auth/login/mfa')
        .set('X-Forwarded-For', `198.51.100.${10 + i}`)
        .send({ mfaToken, code: wrongCodeAt(secret, clock.now()) })
        .expect(401, { statusCode: 401, message: 'Invalid code', error: 'Unauthorized' });
    }
    await a.http
      .post('/auth/login/mfa')
      .set('X-Forwarded-For', '198.51.100.99')
      .send({ mfaToken, code: codeAt(secret, clock.now()) })
      .expect(401, { statusCode: 401, message: 'Invalid or expired mfaToken: sign in again', error: 'Unauthorized' });
  });

  it('turning it off signs in with the password alone again', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    await enableTotp(a.http, user.accessToken, clock);
    await a.http
      .delete('/auth/mfa/totp')
      .set(...bearer(user.accessToken))
      .expect(204);
    await a.http
      .get('/auth/mfa')
      .set(...bearer(user.accessToken))
      .expect(200, { totp: false, passkeys: 0, recoveryCodesLeft: 0 });
    const login = await a.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    expect(decode(login.body.accessToken).amr).toEqual(['pwd']);
  });

  it('refuses a body with neither or both of code and recoveryCode', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    await enableTotp(a.http, user.accessToken, clock);
    const mfaToken = await passwordStep(a.http, user.email);
    await a.http.post('/auth/login/mfa').send({ mfaToken }).expect(400);
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken, code: '123456', recoveryCode: 'abcd-efgh-jkmn-pqrs' })
      .expect(400);
    await a.http.post('/auth/login/mfa').send({ mfaToken, code: 123456 }).expect(400);
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: 'x'.repeat(10_000), code: '123456' })
      .expect(400);
  });

  it('keeps no TOTP secret or recovery code in clear in any table', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const { secret, recoveryCodes } = await enableTotp(a.http, user.accessToken, clock);
    const mfaToken = await passwordStep(a.http, user.email);
    const tables: Array<{ table_name: string }> = await a.dataSource.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
    );
    const dump: string[] = [];
    for (const { table_name: table } of tables) {
      const rows: unknown[] = await a.dataSource.query(`SELECT * FROM "${table}"`);
      dump.push(JSON.stringify(rows));
    }
    const everything = dump.join('\n');
    expect(everything).not.toContain(secret);
    expect(everything.toLowerCase()).not.toContain(secret.toLowerCase());
    for (const code of recoveryCodes) {
      expect(everything).not.toContain(code);
      expect(everything).not.toContain(code.replaceAll('-', ''));
    }
    expect(everything).not.toContain(mfaToken);
  });

  it('cookie mode: no cookie before the second step; the second step sets both', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const first = await a.http
      .post('/auth/login')
      .set(SAME_ORIGIN)
      .send({ email: user.email, password: PASSWORD })
      .expect(200);
    expect(first.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), methods: ['totp', 'recovery_code'] });
    expect(setCookies(first)).toEqual([]);
    // The second step is a cookie-mode change like a login: the CSRF rules hold.
    await b.http
      .post('/auth/login/mfa')
      .set({ ...SAME_ORIGIN, Origin: 'https://evil.example' })
      .send({ mfaToken: first.body.mfaToken, code: codeAt(secret, clock.now()) })
      .expect(403);
    const second = await b.http
      .post('/auth/login/mfa')
      .set(SAME_ORIGIN)
      .send({ mfaToken: first.body.mfaToken, code: codeAt(secret, clock.now()) })
      .expect(200);
    expect(Object.keys(second.body).sort()).toEqual(['emailVerified', 'expiresIn', 'sessionId']);
    const cookies = setCookies(second);
    expect(cookies.map((cookie) => cookie.split('=')[0]).sort()).toEqual([
      '__Host-auth_access',
      '__Secure-auth_refresh',
    ]);
    const access = cookies.find((cookie) => cookie.startsWith('__Host-auth_access='))?.split(';')[0] as string;
    const secure = await a.http.get('/profile/secure').set('Cookie', access);
    expect(secure.status).toBe(200);
  });

  it('a password reset signs nobody in, voids a second step under way, and the next login asks for the code', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const underWay = await passwordStep(a.http, user.email);
    await b.http.post('/auth/password/forgot').send({ email: user.email }).expect(202);
    const token = tokenIn(await mail.nth(user.email, 'reset-password'), 'reset-password');
    const newPassword = 'a brand new passphrase';
    const reset = await b.http.post('/auth/password/reset').send({ token, newPassword }).expect(204);
    expect(setCookies(reset)).toEqual([]);
    expect(reset.body).toEqual({});
    await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: underWay, code: codeAt(secret, clock.now()) })
      .expect(401, { statusCode: 401, message: 'Invalid or expired mfaToken: sign in again', error: 'Unauthorized' });
    const next = await a.http.post('/auth/login').send({ email: user.email, password: newPassword }).expect(200);
    expect(next.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), methods: ['totp', 'recovery_code'] });
    await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken: next.body.mfaToken, code: codeAt(secret, clock.now()) })
      .expect(200);
  });

  it('of two sign-ins with one code at once, on two instances, exactly one wins', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const waitingOnTheApp = async () => {
      const [{ n }] = await a.dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND query LIKE '%FROM mfa_totp WHERE user_id%FOR UPDATE%'`,
      );
      return n as number;
    };
    const tryBoth = async (round: number, hold: boolean) => {
      const tokens = [await passwordStep(a.http, user.email), await passwordStep(b.http, user.email)];
      const code = codeAt(secret, clock.now());
      // The dangerous point: both have checked their mfaToken and wait to check the code.
      const holder = a.dataSource.createQueryRunner();
      await holder.connect();
      await holder.startTransaction();
      if (hold) await holder.query('SELECT 1 FROM mfa_totp WHERE user_id = $1 FOR UPDATE', [user.userId]);
      const attempts = [a, b].map((app, i) =>
        app.http
          .post('/auth/login/mfa')
          .set('X-Forwarded-For', `203.0.113.${round * 2 + i + 1}`)
          .send({ mfaToken: tokens[i], code })
          .then((response) => response.status),
      );
      if (hold) {
        await eventually(async () => (await waitingOnTheApp()) === 2);
        // Both are held there: neither has signed in.
        expect(
          await a.dataSource.query(
            'SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND id <> $2 AND amr @> $3',
            [user.userId, user.sessionId, ['mfa']],
          ),
        ).toEqual([{ n: 0 }]);
      }
      await holder.commitTransaction();
      await holder.release();
      const statuses = await Promise.all(attempts);
      clock.advance(30);
      return statuses.sort();
    };
    expect(await tryBoth(0, true)).toEqual([200, 401]);
    // Eight more rounds: each loser is one of the account's ten wrong codes per window.
    for (let round = 1; round <= 8; round += 1) expect(await tryBoth(round, false)).toEqual([200, 401]);
  });

  it('the purge deletes second steps that expired unused, and nothing else of the second factor', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    await enableTotp(a.http, user.accessToken, clock);
    await passwordStep(a.http, user.email);
    const count = async () =>
      (await a.dataSource.query('SELECT count(*)::int AS n FROM mfa_challenges WHERE user_id = $1', [user.userId]))[0]
        .n;
    expect(await count()).toBe(1);
    await a.app.get(PurgeService).purgeExpired();
    expect(await count()).toBe(1);
    clock.advance(301);
    expect((await a.app.get(PurgeService).purgeExpired()).mfaChallenges).toBeGreaterThanOrEqual(1);
    expect(await count()).toBe(0);
    await a.http
      .get('/auth/mfa')
      .set(...bearer(user.accessToken))
      .expect(200, { totp: true, passkeys: 0, recoveryCodesLeft: 10 });
  });

  it('binds each secret to its user: a ciphertext moved to another user opens for nobody (503, no code accepted)', async () => {
    const { a } = instances;
    const alice = await registerAndLogin(a.http);
    const mallory = await registerAndLogin(a.http);
    const alicesApp = await enableTotp(a.http, alice.accessToken, clock);
    await enableTotp(a.http, mallory.accessToken, clock);
    // Someone with write access to the table copies Alice's sealed secret into Mallory's row.
    await a.dataSource.query(
      'UPDATE mfa_totp SET secret_encrypted = (SELECT secret_encrypted FROM mfa_totp WHERE user_id = $1) WHERE user_id = $2',
      [alice.userId, mallory.userId],
    );
    const response = await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: await passwordStep(a.http, mallory.email), code: codeAt(alicesApp.secret, clock.now()) });
    expect(response.status).toBe(503);
    expect(response.body).toEqual({
      statusCode: 503,
      message: 'Authentication is temporarily unavailable; retry shortly',
      error: 'Service Unavailable',
    });
    expect(response.headers['retry-after']).toEqual(expect.any(String));
  });

  it('draws the QR code of the otpauth URL it is given, as SVG with nothing active in it', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const setup = await a.http
      .post('/auth/mfa/totp/setup')
      .set(...bearer(user.accessToken))
      .expect(200);
    const qr = await a.http
      .post('/auth/mfa/totp/qr')
      .set(...bearer(user.accessToken))
      .send({ otpauthUrl: setup.body.otpauthUrl })
      .buffer(true)
      .parse((response, done) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        response.on('end', () => done(null, text));
      })
      .expect(200);
    expect(qr.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
    expect(qr.headers['cache-control']).toBe('no-store');
    const svg = qr.body as string;
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).not.toMatch(/<script|on\w+=|style=|href=/i);
    for (const otpauthUrl of ['https://evil.example/', 'otpauth://hotp/x?secret=A', '', 'otpauth://totp/a b']) {
      await a.http
        .post('/auth/mfa/totp/qr')
        .set(...bearer(user.accessToken))
        .send({ otpauthUrl })
        .expect(400);
    }
    await a.http.post('/auth/mfa/totp/qr').send({ otpauthUrl: setup.body.otpauthUrl }).expect(401);
  });

  it('caps wrong codes per account over every client: ten per window, whoever knows the password', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    // A right code is no failure: many sign-ins in a row never lock anyone out.
    for (let i = 0; i < 12; i += 1) {
      await a.http
        .post('/auth/login/mfa')
        .send({ mfaToken: await passwordStep(a.http, user.email), code: codeAt(secret, clock.now()) })
        .expect(200);
      clock.advance(30);
    }
    // Ten wrong codes, each from an address of its own (two per mfaToken, within its five).
    for (let i = 0; i < 10; i += 2) {
      const mfaToken = await passwordStep(a.http, user.email);
      for (const n of [i, i + 1]) {
        await a.http
          .post('/auth/login/mfa')
          .set('X-Forwarded-For', `192.0.2.${n + 1}`)
          .send({ mfaToken, code: wrongCodeAt(secret, clock.now()) })
          .expect(401);
      }
    }
    // The eleventh code is refused before it is checked, even the right one from a fresh address.
    const locked = await a.http
      .post('/auth/login/mfa')
      .set('X-Forwarded-For', '192.0.2.200')
      .send({ mfaToken: await passwordStep(a.http, user.email), code: codeAt(secret, clock.now()) });
    expect(locked.status).toBe(429);
    expect(locked.headers['retry-after']).toEqual(expect.any(String));
    // A refused attempt counts for no limit: not a failed login of that address either.
    expect(await a.dataSource.query(`SELECT count(*)::int AS n FROM login_failures WHERE ip = '192.0.2.200'`)).toEqual([
      { n: 0 },
    ]);
    clock.advance(901);
    await a.http
      .post('/auth/login/mfa')
      .set('X-Forwarded-For', '192.0.2.200')
      .send({ mfaToken: await passwordStep(a.http, user.email), code: codeAt(secret, clock.now()) })
      .expect(200);
  });

  it('a suspended account with a second factor says so only after both factors', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const until = new Date(clock.now().getTime() + 3_600_000);
    await a.app.get(RevocationService).revokeAllForUser(user.userId, { until });
    const mfaToken = await passwordStep(a.http, user.email);
    const refused = await a.http.post('/auth/login/mfa').send({ mfaToken, code: codeAt(secret, clock.now()) });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toBe(`Account suspended until ${until.toISOString()}`);
  });

  it('turning it off while a second step holds its challenge waits for it, in one lock order: no deadlock', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    await enableTotp(a.http, user.accessToken, clock);
    await passwordStep(a.http, user.email);
    // The second step's order: its challenge, then the app's row.
    const step = a.dataSource.createQueryRunner();
    await step.connect();
    await step.startTransaction();
    try {
      await step.query('SELECT 1 FROM mfa_challenges WHERE user_id = $1 FOR UPDATE', [user.userId]);
      const turnOff = a.http
        .delete('/auth/mfa/totp')
        .set(...bearer(user.accessToken))
        .then((response) => response.status);
      await eventually(async () => {
        const [{ n }] = await a.dataSource.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%mfa_challenges%'`,
        );
        return n === 1;
      });
      await step.query('SELECT 1 FROM mfa_totp WHERE user_id = $1 FOR UPDATE', [user.userId]);
      await step.commitTransaction();
      expect(await turnOff).toBe(204);
    } finally {
      await step.release();
    }
  });
});
