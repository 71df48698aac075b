import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bearer, createTestApp, registerAndLogin, type TestAppWithDatabase } from './support/test-app.js';
import { createHash, randomUUID } from 'node:crypto';
import { decode, sign } from './support/tokens.js';

const REVOKED = { statusCode: 401, message: 'Token has been revoked', error: 'Unauthorized' };
const EXPIRED = { statusCode: 401, message: 'Token has expired', error: 'Unauthorized' };

describe('refresh-token rotation', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    // Short lifetimes so that the clock can walk past them; grace 10 s as by default.
    t = await createTestApp({ config: { accessTokenTtl: 300, refreshTokenTtl: 3_600, sessionMaxAge: 10_000 } });
  });
  afterAll(async () => {
    await t.close();
  });

  const refresh = (refreshToken: string) => t.http.post('/auth/refresh').send({ refreshToken });

  it('rotates: a new pair of the same shape and session, and the new access token works', async () => {
    const user = await registerAndLogin(t.http);
    t.clock.advance(5);
    const response = await refresh(user.refreshToken).expect(200);
    expect(response.body).toEqual({
      accessToken: expect.any(String),
      refreshToken: expect.any(String),
      tokenType: 'Bearer',
      expiresIn: 300,
      sessionId: user.sessionId,
    });
    expect(response.body.refreshToken).not.toBe(user.refreshToken);
    await t.http
      .get('/profile')
      .set(...bearer(response.body.accessToken))
      .expect(200);
    await refresh(response.body.refreshToken).expect(200);
  });

  it('gives exactly one 200 for N concurrent refreshes with one token, and keeps the session', async () => {
    const user = await registerAndLogin(t.http);
    const responses = await Promise.all(Array.from({ length: 10 }, () => refresh(user.refreshToken)));
    const winners = responses.filter((response) => response.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of responses.filter((response) => response.status !== 200)) expect(loser.body).toEqual(REVOKED);
    // The losers were within the grace: the session lives on with the winner's tokens.
    await t.http
      .get('/profile')
      .set(...bearer(winners[0].body.accessToken))
      .expect(200);
    await refresh(winners[0].body.refreshToken).expect(200);
  });

  it('answers the just-rotated token within the grace with a plain 401, and nothing else', async () => {
    const user = await registerAndLogin(t.http);
    const rotated = await refresh(user.refreshToken).expect(200);
    t.clock.advance(10);
    expect((await refresh(user.refreshToken).expect(401)).body).toEqual(REVOKED);
    await t.http
      .get('/profile')
      .set(...bearer(rotated.body.accessToken))
      .expect(200);
    await refresh(rotated.body.refreshToken).expect(200);
  });

  it('takes a rotated-out token after the grace as theft and revokes the whole session', async () => {
    const user = await registerAndLogin(t.http);
    const other = await t.http
      .post('/auth/login')
      .send({ email: user.email, password: 'correct horse battery' })
      .expect(200);
    const rotated = await refresh(user.refreshToken).expect(200);
    t.clock.advance(11);
    expect((await refresh(user.refreshToken).expect(401)).body).toEqual(REVOKED);
    // The newest pair of that session is dead too.
    expect(
      (
        await t.http
          .get('/profile')
          .set(...bearer(rotated.body.accessToken))
          .expect(401)
      ).body,
    ).toEqual(REVOKED);
    expect((await refresh(rotated.body.refreshToken).expect(401)).body).toEqual(REVOKED);
    const [session] = await t.dataSource.query('SELECT revoked_reason FROM sessions WHERE id = $1', [user.sessionId]);
    expect(session.revoked_reason).toBe('refresh_token_reuse');
    // Another session of the same user is untouched.
    await t.http
      .get('/profile')
      .set(...bearer(other.body.accessToken))
      .expect(200);
  });

  it('takes an older rotated-out token (not the previous one) as theft even within the grace', async () => {
    const user = await registerAndLogin(t.http);
    const second = await refresh(user.refreshToken).expect(200);
    const third = await refresh(second.body.refreshToken).expect(200);
    await refresh(user.refreshToken).expect(401);
    await refresh(third.body.refreshToken).expect(401);
  });

  it('kills a refresh token idle longer than REFRESH_TOKEN_TTL', async () => {
    const user = await registerAndLogin(t.http);
    t.clock.advance(3_599);
    const alive = await refresh(user.refreshToken).expect(200);
    t.clock.advance(3_600);
    expect((await refresh(alive.body.refreshToken).expect(401)).body).toEqual(EXPIRED);
  });

  it('never extends a session past SESSION_MAX_AGE from the login', async () => {
    const user = await registerAndLogin(t.http);
    const loginAt = t.clock.now().getTime();
    let current = user.refreshToken;
    // Refresh every 3000 s: well within the idle limit, so only the absolute limit can stop it.
    for (let elapsed = 3_000; elapsed < 10_000; elapsed += 3_000) {
      t.clock.advance(3_000);
      const response = await refresh(current).expect(200);
      current = response.body.refreshToken;
      const accessExp = decode(response.body.accessToken).exp as number;
      const refreshExp = decode(current).exp as number;
      expect(refreshExp * 1000).toBeLessThanOrEqual(loginAt + 10_000_000);
      expect(accessExp * 1000).toBeLessThanOrEqual(loginAt + 10_000_000);
    }
    t.clock.set(new Date(loginAt + 10_000_000));
    expect((await refresh(current).expect(401)).body).toEqual(EXPIRED);
  });

  it('names the session in each refresh token: its sign-in time and its end, as the row has them', async () => {
    const user = await registerAndLogin(t.http);
    const [session] = await t.dataSource.query('SELECT created_at, expires_at FROM sessions WHERE id = $1', [
      user.sessionId,
    ]);
    const expectSession = (token: string) =>
      expect(decode(token)).toMatchObject({
        auth_time_ms: session.created_at.getTime(),
        session_exp_ms: session.expires_at.getTime(),
      });
    expectSession(user.refreshToken);
    t.clock.advance(5);
    expectSession((await refresh(user.refreshToken).expect(200)).body.refreshToken);
    // Access tokens do not carry the session's end.
    expect(decode(user.accessToken)).not.toHaveProperty('session_exp_ms');
  });

  it('signs for the session as the database has it when the token says otherwise (a session ended earlier)', async () => {
    const user = await registerAndLogin(t.http);
    // An operator (or a later version) brings the session's end forward; the token still names the old one.
    const end = new Date(t.clock.now().getTime() + 600_000);
    await t.dataSource.query('UPDATE sessions SET expires_at = $2 WHERE id = $1', [user.sessionId, end]);
    t.clock.advance(5);
    const response = await refresh(user.refreshToken).expect(200);
    expect(decode(response.body.refreshToken)).toMatchObject({
      session_exp_ms: end.getTime(),
      exp: Math.floor(end.getTime() / 1000),
    });
    expect((decode(response.body.accessToken).exp as number) * 1000).toBeLessThanOrEqual(end.getTime());
    await refresh(response.body.refreshToken).expect(200);
  });

  it('keeps rotating a session whose row holds microseconds (written by hand): a current token is never reuse', async () => {
    const user = await registerAndLogin(t.http);
    // An operator's SQL: PostgreSQL keeps microseconds, tokens carry milliseconds.
    await t.dataSource.query(
      `UPDATE sessions SET expires_at = expires_at - interval '0.000123 seconds',
                           created_at = created_at - interval '0.000456 seconds' WHERE id = $1`,
      [user.sessionId],
    );
    let current = user.refreshToken;
    for (let i = 0; i < 3; i += 1) {
      t.clock.advance(5);
      current = (await refresh(current).expect(200)).body.refreshToken;
    }
    const [session] = await t.dataSource.query('SELECT revoked_at FROM sessions WHERE id = $1', [user.sessionId]);
    expect(session.revoked_at).toBeNull();
  });

  it('still rotates a refresh token issued before tokens named their session’s end', async () => {
    const user = await registerAndLogin(t.http);
    const [session] = await t.dataSource.query('SELECT created_at FROM sessions WHERE id = $1', [user.sessionId]);
    const nowMs = t.clock.now().getTime();
    const iat = Math.floor(nowMs / 1000);
    const older = sign({
      sub: user.userId,
      sid: user.sessionId,
      jti: randomUUID(),
      typ: 'refresh',
      iat,
      iat_ms: nowMs,
      exp: iat + 3_600,
      auth_time_ms: session.created_at.getTime(),
    });
    const hash = createHash('sha256').update(older).digest('hex');
    await t.dataSource.query('UPDATE sessions SET refresh_token_hash = $2 WHERE id = $1', [user.sessionId, hash]);
    t.clock.advance(5);
    const response = await refresh(older).expect(200);
    expect(decode(response.body.refreshToken)).toHaveProperty('session_exp_ms');
    // The token it replaced, presented again after the grace, is reuse as ever.
    t.clock.advance(11);
    await refresh(older).expect(401);
    await refresh(response.body.refreshToken).expect(401);
  });

  it('refuses a refresh token whose named session end comes before its own expiry', async () => {
    const user = await registerAndLogin(t.http);
    const claims = decode(user.refreshToken);
    const forged = sign({ ...claims, session_exp_ms: (claims.exp as number) * 1000 - 1 });
    const response = await refresh(forged).expect(401);
    expect(response.body).toEqual({ statusCode: 401, message: 'Invalid token', error: 'Unauthorized' });
  });

  it('refuses an access token that names a session end (a refresh-token claim)', async () => {
    const user = await registerAndLogin(t.http);
    const claims = decode(user.accessToken);
    const forged = sign({ ...claims, session_exp_ms: (claims.exp as number) * 1000 });
    const response = await t.http
      .get('/profile')
      .set(...bearer(forged))
      .expect(401);
    expect(response.body).toEqual({ statusCode: 401, message: 'Invalid token', error: 'Unauthorized' });
  });

  it('refuses an access token sent to /auth/refresh', async () => {
    const user = await registerAndLogin(t.http);
    const response = await refresh(user.accessToken).expect(401);
    expect(response.body).toEqual({ statusCode: 401, message: 'Invalid token', error: 'Unauthorized' });
  });
});
