import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AccountService,
  formatSecurityEvent,
  RevocationService,
  SECURITY_EVENT_HANDLER,
  type SecurityEvent,
  type SecurityEventHandler,
} from '../src/auth/index.js';
import {
  bearer,
  createTestApp,
  PASSWORD,
  registerAndLogin,
  type TestAppWithDatabase,
  uniqueEmail,
} from './support/test-app.js';
import { enableTotp, passwordStep, wrongCodeAt } from './support/mfa.js';
import { eventually } from './support/latch.js';

/** Collects every event the module emits. */
class CapturingHandler implements SecurityEventHandler {
  readonly events: SecurityEvent[] = [];
  handle(event: SecurityEvent): void {
    this.events.push(event);
  }
  ofType(type: SecurityEvent['type']): SecurityEvent[] {
    return this.events.filter((event) => event.type === type);
  }
}

describe('security events', () => {
  const captured = new CapturingHandler();
  let t: TestAppWithDatabase;
  const secrets: string[] = [PASSWORD, 'wrong password', 'a new password!'];
  beforeAll(async () => {
    t = await createTestApp({
      config: { registerMaxPerIp: 2, loginMaxFailedAttempts: 2 },
      overrides: [[SECURITY_EVENT_HANDLER, captured]],
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('reports each kind, with ids and the client address, never a token, a hash, a password or an email', async () => {
    const ip = '203.0.113.50';
    const user = await registerAndLogin(t.http);
    secrets.push(user.accessToken, user.refreshToken, user.email);
    expect(captured.ofType('user_registered').at(-1)).toMatchObject({ userId: user.userId });
    expect(captured.ofType('login_succeeded').at(-1)).toMatchObject({
      userId: user.userId,
      sessionId: user.sessionId,
    });

    await t.http
      .post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email: user.email, password: 'wrong password' })
      .expect(401);
    expect(captured.ofType('login_failed').at(-1)).toMatchObject({
      userId: user.userId,
      ip,
      reason: 'bad_credentials',
    });
    await t.http.post('/auth/login').set('X-Forwarded-For', ip).send({ email: user.email, password: 'wrong password' });
    await t.http
      .post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email: user.email, password: PASSWORD })
      .expect(429);
    expect(captured.ofType('login_throttled').at(-1)).toMatchObject({ userId: user.userId, ip, reason: 'account_ip' });

    const rotated = await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
    secrets.push(rotated.body.accessToken, rotated.body.refreshToken);
    t.clock.advance(60);
    await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
    expect(captured.ofType('refresh_reuse_detected').at(-1)).toMatchObject({
      userId: user.userId,
      sessionId: user.sessionId,
    });
    expect(captured.ofType('session_revoked').at(-1)).toMatchObject({
      userId: user.userId,
      sessionId: user.sessionId,
      reason: 'refresh_token_reuse',
    });
    const tablet = await t.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    secrets.push(tablet.body.accessToken, tablet.body.refreshToken);

    const second = await t.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    secrets.push(second.body.accessToken, second.body.refreshToken);
    await t.http
      .post('/auth/password')
      .set(...bearer(second.body.accessToken))
      .send({ currentPassword: PASSWORD, newPassword: 'a new password!' })
      .expect(204);
    expect(captured.ofType('password_changed').at(-1)).toMatchObject({ userId: user.userId });
    expect(captured.ofType('session_revoked').at(-1)).toMatchObject({
      userId: user.userId,
      sessionId: tablet.body.sessionId,
      reason: 'password_change',
    });

    t.clock.advance(0.01);
    await t.http
      .post('/auth/logout-all')
      .set(...bearer(second.body.accessToken))
      .expect(204);
    expect(captured.ofType('logout_all').at(-1)).toMatchObject({ userId: user.userId });

    const until = new Date(t.clock.now().getTime() + 3_600_000);
    await t.app.get(RevocationService).revokeAllForUser(user.userId, { until });
    expect(captured.ofType('user_banned').at(-1)).toMatchObject({ userId: user.userId, until });
    const banned = captured.ofType('session_revoked').at(-1);
    expect(banned).toMatchObject({ userId: user.userId, reason: 'user_banned' });
    expect(banned?.sessionId).toBeUndefined();

    await t.app.get(AccountService).deleteUser(user.userId);
    expect(captured.ofType('account_deleted').at(-1)).toMatchObject({ userId: user.userId });
    expect(captured.ofType('session_revoked').at(-1)).toMatchObject({ userId: user.userId, reason: 'account_deleted' });

    await t.http
      .post('/auth/register')
      .set('X-Forwarded-For', '198.51.100.3')
      .send({ email: uniqueEmail(), password: PASSWORD });
    await t.http
      .post('/auth/register')
      .set('X-Forwarded-For', '198.51.100.3')
      .send({ email: uniqueEmail(), password: PASSWORD });
    await t.http
      .post('/auth/register')
      .set('X-Forwarded-For', '198.51.100.3')
      .send({ email: uniqueEmail(), password: PASSWORD })
      .expect(429);
    expect(captured.ofType('register_throttled').at(-1)).toMatchObject({ ip: '198.51.100.3' });

    const hashes = (await t.dataSource.query('SELECT password_hash FROM users')) as Array<{ password_hash: string }>;
    // Neither in the events a host's handler receives, nor in the log lines made of them.
    const raw = JSON.stringify(captured.events);
    const lines = captured.events.map(formatSecurityEvent).join('\n');
    for (const secret of [...secrets, ...hashes.map((row) => row.password_hash), '$argon2']) {
      expect(raw).not.toContain(secret);
      expect(lines).not.toContain(secret);
    }
  });

  it('reports the second factor’s events, never a code, a secret, a recovery code or an mfaToken', async () => {
    const ip = '203.0.113.60';
    // Registered from an address of its own: this app allows two registrations per address.
    const email = uniqueEmail();
    const registered = await t.http
      .post('/auth/register')
      .set('X-Forwarded-For', ip)
      .send({ email, password: PASSWORD })
      .expect(201);
    const signedIn = await t.http
      .post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email, password: PASSWORD })
      .expect(200);
    const user = { userId: registered.body.id as string, email, accessToken: signedIn.body.accessToken as string };
    const { secret, recoveryCodes } = await enableTotp(t.http, user.accessToken, t.clock);
    expect(captured.ofType('mfa_enabled').at(-1)).toMatchObject({ userId: user.userId });

    const mfaToken = await passwordStep(t.http, user.email);
    const wrong = wrongCodeAt(secret, t.clock.now());
    await t.http.post('/auth/login/mfa').set('X-Forwarded-For', ip).send({ mfaToken, code: wrong }).expect(401);
    expect(captured.ofType('mfa_challenge_failed').at(-1)).toEqual({
      type: 'mfa_challenge_failed',
      at: t.clock.now(),
      userId: user.userId,
      ip,
      reason: 'wrong_code',
    });
    await t.http
      .post('/auth/login/mfa')
      .set('X-Forwarded-For', ip)
      .send({ mfaToken, recoveryCode: recoveryCodes[0] })
      .expect(200);
    expect(captured.ofType('recovery_code_used').at(-1)).toMatchObject({ userId: user.userId, ip });
    await t.http
      .post('/auth/mfa/recovery-codes')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(captured.ofType('recovery_codes_regenerated').at(-1)).toMatchObject({ userId: user.userId });
    await t.http
      .delete('/auth/mfa/totp')
      .set(...bearer(user.accessToken))
      .expect(204);
    expect(captured.ofType('mfa_disabled').at(-1)).toMatchObject({ userId: user.userId });

    const everything = JSON.stringify(captured.events);
    for (const secretValue of [secret, wrong, mfaToken, ...recoveryCodes])
      expect(everything).not.toContain(secretValue);
  });

  it('reports a logout and a device sign-out as session_revoked with their reasons', async () => {
    const user = await registerAndLogin(t.http);
    const phone = await t.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    await t.http
      .delete(`/auth/sessions/${phone.body.sessionId}`)
      .set(...bearer(user.accessToken))
      .expect(204);
    expect(captured.ofType('session_revoked').at(-1)).toMatchObject({
      userId: user.userId,
      sessionId: phone.body.sessionId,
      reason: 'device_revoked',
    });
    await t.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    expect(captured.ofType('session_revoked').at(-1)).toMatchObject({
      userId: user.userId,
      sessionId: user.sessionId,
      reason: 'logout',
    });
  });

  it('writes each event as one line of JSON', () => {
    const line = formatSecurityEvent({
      type: 'login_failed',
      at: new Date('2026-11-25T10:00:00.000Z'),
      userId: null,
      ip: '203.0.113.1',
      reason: 'bad_credentials',
    });
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      event: 'login_failed',
      at: '2026-11-25T10:00:00.000Z',
      userId: null,
      ip: '203.0.113.1',
      reason: 'bad_credentials',
    });
  });

  it('stores every event the handler got, of every kind, with its user, session and address', async () => {
    const key = (event: { type: string; userId: string | null; sessionId?: string | null; ip?: string | null }) =>
      `${event.type} ${event.userId ?? '-'} ${event.sessionId ?? '-'} ${event.ip ?? '-'}`;
    const handled = captured.events.map(key).sort();
    const stored = async () =>
      (
        (await t.dataSource.query(
          `SELECT type, user_id AS "userId", session_id AS "sessionId", ip FROM auth_events`,
        )) as Array<{ type: string; userId: string | null; sessionId: string | null; ip: string | null }>
      )
        .map(key)
        .sort();
    // Throttling refusals are written without being waited for.
    await eventually(async () => (await stored()).length >= handled.length);
    expect(await stored()).toEqual(handled);
    expect(new Set(captured.events.map((event) => event.type)).size).toBeGreaterThanOrEqual(15);
  });

  it('a failing handler never fails the request', async () => {
    const broken: SecurityEventHandler = {
      handle: () => {
        throw new Error('log shipper down');
      },
    };
    const other = await createTestApp({ overrides: [[SECURITY_EVENT_HANDLER, broken]] });
    try {
      const user = await registerAndLogin(other.http);
      await other.http.post('/auth/login').send({ email: user.email, password: 'nope nope' }).expect(401);
      await other.http
        .post('/auth/logout-all')
        .set(...bearer(user.accessToken))
        .expect(204);
    } finally {
      await other.close();
    }
  });
});
