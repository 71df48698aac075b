import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { MailOutboxService } from '../src/auth/index.js';
import { NewDeviceAlertRepository } from '../src/auth/new-device-alerts/new-device-alert.repository.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually } from './support/latch.js';
import { type CapturedMail, linkIn, TestMailServer, tokenIn } from './support/mail.js';
import { bearer, PASSWORD, startApp, statusOf, type TestApp, uniqueEmail } from './support/test-app.js';
import { addPasskey, SoftAuthenticator, TEST_RP } from './support/webauthn.js';

const ALERT_SUBJECT = /^New sign-in to your account/;

describe('new-device sign-in alerts, over a real SMTP server', () => {
  let mail: TestMailServer;
  let database: TestDatabase;
  const clock = new FakeClock();
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    mail = await TestMailServer.start();
    database = await createTestDatabase();
    const config = { smtpUrl: mail.url };
    a = await startApp(database.url, { clock, config });
    b = await startApp(database.url, { clock, config });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.drop();
    await mail.down();
  });

  const alertsTo = (address: string) => mail.to(address).filter((each) => ALERT_SUBJECT.test(each.subject));
  /** Waits for every queued mail of both instances to be sent. */
  const drained = () =>
    eventually(async () => (await a.dataSource.query('SELECT 1 FROM mail_outbox')).length === 0, 5_000);

  async function register(email = uniqueEmail('alert')): Promise<{ email: string; userId: string }> {
    const response = await a.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    return { email, userId: response.body.id };
  }

  function signIn(app: TestApp, email: string, deviceName: string, ip: string) {
    return app.http
      .post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email, password: PASSWORD, deviceName })
      .expect(200)
      .then((response) => response.body as { accessToken: string; refreshToken: string; sessionId: string });
  }

  it('mails nothing for the first sign-in after registration, nor for a known device and network', async () => {
    const { email } = await register();
    await signIn(a, email, 'Laptop', '203.0.113.10');
    // The same device name in the same IPv4 /24, on the other instance.
    await signIn(b, email, 'Laptop', '203.0.113.99');
    await drained();
    expect(alertsTo(email)).toEqual([]);
  });

  it('mails "New sign-in to your account" for a new device name or a new network, with the device, network, time and link', async () => {
    const { email, userId } = await register();
    await signIn(a, email, 'Laptop', '203.0.113.10');
    const phone = await signIn(b, email, 'Phone', '203.0.113.11');
    const [alert] = await eventuallyMails(email, 1);
    expect(alert.subject).toMatch(ALERT_SUBJECT);
    expect(alert.text).toContain('Device (as it named itself): “Phone”');
    expect(alert.text).toContain('Network: 203.0.113.0/24');
    expect(alert.text).toContain(`Time: ${clock.now().toISOString().slice(0, 19).replace('T', ' ')} UTC`);
    expect(linkIn(alert, 'secure')).toMatch(/^http:\/\/localhost:3000\/account\/secure\?token=[A-Za-z0-9_-]{43}$/);
    expect(alert.html).toContain('This wasn&#39;t me');
    // The same device from another /24, and an IPv6 /48: new networks (each past the 10 minutes
    // between two alert mails).
    clock.advance(601);
    await signIn(a, email, 'Laptop', '198.51.100.10');
    clock.advance(601);
    await signIn(a, email, 'Laptop', '2001:db8:1:2::10');
    // Same /48, another /64: known.
    await signIn(b, email, 'Laptop', '2001:db8:1:ffff::20');
    await eventuallyMails(email, 3);
    await drained();
    expect(alertsTo(email)).toHaveLength(3);
    expect(alertsTo(email)[2].text).toContain('Network: 2001:db8:1::/48');
    const recorded = await a.dataSource.query(
      `SELECT session_id, device_name, network, actor_kind FROM auth_events WHERE user_id = $1 AND type = 'new_device_alert' ORDER BY id`,
      [userId],
    );
    expect(recorded[0]).toEqual({
      session_id: phone.sessionId,
      device_name: 'Phone',
      network: '203.0.113.0/24',
      actor_kind: 'system',
    });
    expect(recorded.map((row: { network: string }) => row.network)).toEqual([
      '203.0.113.0/24',
      '198.51.100.0/24',
      '2001:db8:1::/48',
    ]);
  });

  it('forgets a device after 90 days without a sign-in from it', async () => {
    const { email } = await register();
    await signIn(a, email, 'Laptop', '203.0.113.10');
    clock.advance(89 * 86_400);
    await signIn(a, email, 'Desk', '192.0.2.1');
    await eventuallyMails(email, 1);
    // The laptop was last seen 89 days ago: still known.
    await signIn(a, email, 'Laptop', '203.0.113.10');
    clock.advance(91 * 86_400);
    await signIn(a, email, 'Laptop', '203.0.113.10');
    await eventuallyMails(email, 2);
    await drained();
    expect(alertsTo(email)).toHaveLength(2);
  });

  it('alerts for any first factor: a passkey too', async () => {
    const { email } = await register();
    const first = await signIn(a, email, 'Laptop', '203.0.113.10');
    const authenticator = new SoftAuthenticator();
    await addPasskey(a.http, first.accessToken, authenticator, TEST_RP);
    const requested = await b.http.post('/auth/passkeys/login/options').send({ email }).expect(200);
    await b.http
      .post('/auth/passkeys/login')
      .set('X-Forwarded-For', '192.0.2.50')
      .set('User-Agent', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1')
      .send({ response: authenticator.authenticate(requested.body.challenge, TEST_RP) })
      .expect(200);
    const [alert] = await eventuallyMails(email, 1);
    expect(alert.text).toContain('Network: 192.0.2.0/24');
  });

  it('"This wasn\'t me": once, on the other instance, ends every session everywhere, stops the password and mails a reset link', async () => {
    const { email, userId } = await register();
    const laptop = await signIn(a, email, 'Laptop', '203.0.113.10');
    const thief = await signIn(b, email, 'Unknown', '192.0.2.66');
    const token = tokenIn((await eventuallyMails(email, 1))[0], 'secure');
    await b.http.post('/auth/account/secure').set('X-Forwarded-For', '203.0.113.10').send({ token }).expect(204);
    for (const session of [laptop, thief]) {
      for (const app of [a, b]) await eventually(async () => (await statusOf(app, session.accessToken)) === 401);
      await a.http.post('/auth/refresh').send({ refreshToken: session.refreshToken }).expect(401);
    }
    // Whoever signed in cannot come back with the password: it stopped working.
    await a.http.post('/auth/login').send({ email, password: PASSWORD }).expect(401);
    const reset = await mail.nth(email, 'reset-password');
    expect(reset.subject).toMatch(/^Reset your password/);
    // Single use.
    const again = await a.http.post('/auth/account/secure').send({ token });
    expect(again.body).toEqual({ statusCode: 400, message: 'Invalid or expired link', error: 'Bad Request' });
    // The reset link works: a new password, and the old one no longer signs in.
    await a.http
      .post('/auth/password/reset')
      .send({ token: tokenIn(reset, 'reset-password'), newPassword: 'a whole new password' })
      .expect(204);
    await a.http.post('/auth/login').send({ email, password: 'a whole new password' }).expect(200);
    const events = await a.dataSource.query(
      `SELECT type, actor_kind, ip, details FROM auth_events WHERE user_id = $1 AND type IN ('account_secured', 'logout_all') ORDER BY id`,
      [userId],
    );
    expect(events).toEqual([
      { type: 'account_secured', actor_kind: 'user', ip: '203.0.113.10', details: {} },
      { type: 'logout_all', actor_kind: 'user', ip: '203.0.113.10', details: { reason: 'account_secured' } },
    ]);
  });

  it('refuses an expired link, a link replaced by a newer alert, and anything else, with nothing changed', async () => {
    const { email } = await register();
    const laptop = await signIn(a, email, 'Laptop', '203.0.113.10');
    await signIn(a, email, 'Phone', '192.0.2.1');
    const older = tokenIn((await eventuallyMails(email, 1))[0], 'secure');
    clock.advance(601);
    await signIn(a, email, 'Tablet', '192.0.2.2');
    const newer = tokenIn((await eventuallyMails(email, 2))[1], 'secure');
    const refused = (token: unknown) =>
      a.http
        .post('/auth/account/secure')
        .send({ token })
        .then((response) => [response.status, response.body.message]);
    expect(await refused(older)).toEqual([400, 'Invalid or expired link']);
    expect(await refused('x'.repeat(43))).toEqual([400, 'Invalid or expired link']);
    expect(await refused('short')).toEqual([400, 'Invalid or expired link']);
    expect((await refused(42))[0]).toBe(400);
    clock.advance(86_401);
    expect(await refused(newer)).toEqual([400, 'Invalid or expired link']);
    expect(await statusOf(b, laptop.accessToken)).toBe(401); // expired by now (15 min access tokens)
    const refreshed = await a.http.post('/auth/refresh').send({ refreshToken: laptop.refreshToken }).expect(200);
    expect(await statusOf(b, refreshed.body.accessToken)).toBe(200);
  });

  it('writes the alert with the session: both or neither', async () => {
    const { email, userId } = await register();
    await signIn(a, email, 'Laptop', '203.0.113.10');
    const failing = jest
      .spyOn(a.app.get(NewDeviceAlertRepository), 'writeIn')
      .mockRejectedValueOnce(new Error('connection lost'));
    try {
      const refused = await a.http
        .post('/auth/login')
        .set('X-Forwarded-For', '192.0.2.9')
        .send({ email, password: PASSWORD, deviceName: 'Phone' });
      expect(refused.status).toBeGreaterThanOrEqual(500);
    } finally {
      failing.mockRestore();
    }
    const sessions = await a.dataSource.query(`SELECT device_name FROM sessions WHERE user_id = $1`, [userId]);
    expect(sessions).toEqual([{ device_name: 'Laptop' }]);
    const signIns = await a.dataSource.query(
      `SELECT count(*)::int AS n FROM auth_events WHERE user_id = $1 AND type = 'login_succeeded'`,
      [userId],
    );
    expect(signIns).toEqual([{ n: 1 }]);
    // The next try alerts once.
    await signIn(a, email, 'Phone', '192.0.2.9');
    await eventuallyMails(email, 1);
    await drained();
    expect(alertsTo(email)).toHaveLength(1);
  });

  it('keeps the link sealed in the outbox while the mail server is down', async () => {
    const { email } = await register();
    await signIn(a, email, 'Laptop', '203.0.113.10');
    await mail.down();
    try {
      await signIn(a, email, 'Phone', '192.0.2.1');
      const [row] = await a.dataSource.query(
        `SELECT subject, body_text, body_html FROM mail_outbox WHERE purpose = 'new_device_alert'`,
      );
      expect(row.subject).toMatch(ALERT_SUBJECT);
      expect(row.body_text).not.toContain('token=');
      expect(row.body_html).not.toContain('token=');
      // Its first try has failed (and set the next one), before the server comes back.
      await eventually(
        async () =>
          (
            await a.dataSource.query(
              `SELECT 1 FROM mail_outbox WHERE purpose = 'new_device_alert' AND last_error IS NOT NULL`,
            )
          ).length === 1,
        10_000,
      );
    } finally {
      await mail.up();
    }
    // Tried again after its back-off (on the module's clock).
    clock.advance(3600);
    a.app.get(MailOutboxService).kick();
    await eventuallyMails(email, 1);
  });

  it('mails at most three alerts in 10 minutes: more new devices meanwhile are recorded, not mailed', async () => {
    const { email, userId } = await register();
    await signIn(a, email, 'Laptop', '203.0.113.10');
    // The owner's own new phone, then an intruder right after it: both mailed.
    await signIn(a, email, 'Phone', '192.0.2.1');
    for (let n = 0; n < 5; n += 1) await signIn(b, email, `Flood ${n}`, `198.51.100.${n}`);
    const recorded = await a.dataSource.query(
      `SELECT details FROM auth_events WHERE user_id = $1 AND type = 'new_device_alert' ORDER BY id`,
      [userId],
    );
    expect(recorded.map((row: { details: { mailed: boolean } }) => row.details.mailed)).toEqual([
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    const mails = await eventuallyMails(email, 3);
    await drained();
    expect(alertsTo(email)).toHaveLength(3);
    expect(mails[1].text).toContain('“Flood 0”');
    // The last link mailed still secures the account, whatever signed in since.
    await a.http
      .post('/auth/account/secure')
      .send({ token: tokenIn(mails[2], 'secure') })
      .expect(204);
    clock.advance(601);
  });

  it('takes passkeys and connected accounts away with the password when securing', async () => {
    const { email, userId } = await register();
    const first = await signIn(a, email, 'Laptop', '203.0.113.10');
    // The intruder adds a passkey of theirs, to come back with it.
    const intruder = await signIn(a, email, 'Intruder', '192.0.2.77');
    const authenticator = new SoftAuthenticator();
    await addPasskey(a.http, intruder.accessToken, authenticator, TEST_RP);
    const token = tokenIn((await eventuallyMails(email, 1))[0], 'secure');
    await a.http.post('/auth/account/secure').send({ token }).expect(204);
    const requested = await b.http.post('/auth/passkeys/login/options').send({}).expect(200);
    await b.http
      .post('/auth/passkeys/login')
      .send({ response: authenticator.authenticate(requested.body.challenge, TEST_RP) })
      .expect(401);
    expect(await statusOf(b, first.accessToken)).toBe(401);
    const removed = await a.dataSource.query(
      `SELECT type, details FROM auth_events WHERE user_id = $1 AND type = 'passkey_removed'`,
      [userId],
    );
    expect(removed).toEqual([{ type: 'passkey_removed', details: { reason: 'account_secured' } }]);
  });

  it('signs in whatever an old session row holds as its address (an IPv6 zone from before addresses were normalised)', async () => {
    const { email, userId } = await register();
    await signIn(a, email, 'Laptop', '203.0.113.10');
    await a.dataSource.query(`UPDATE sessions SET ip = 'fe80::1%eth0' WHERE user_id = $1`, [userId]);
    await signIn(b, email, 'Laptop', '203.0.113.10');
  });

  async function eventuallyMails(email: string, count: number, timeoutMs = 5_000): Promise<CapturedMail[]> {
    await eventually(() => alertsTo(email).length >= count, timeoutMs);
    return alertsTo(email);
  }
});

describe('newDeviceAlerts: false', () => {
  let mail: TestMailServer;
  let app: TestApp;
  let database: TestDatabase;
  beforeAll(async () => {
    mail = await TestMailServer.start();
    database = await createTestDatabase();
    app = await startApp(database.url, { config: { smtpUrl: mail.url, newDeviceAlerts: false } });
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
    await mail.down();
  });

  it('mails no alert', async () => {
    const email = uniqueEmail('quiet');
    await app.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    await app.http.post('/auth/login').send({ email, password: PASSWORD, deviceName: 'Laptop' }).expect(200);
    const other = await app.http
      .post('/auth/login')
      .set('X-Forwarded-For', '192.0.2.1')
      .send({ email, password: PASSWORD, deviceName: 'Phone' })
      .expect(200);
    await mail.nth(email, 'verify-email');
    await app.http
      .get('/auth/sessions')
      .set(...bearer(other.body.accessToken))
      .expect(200);
    expect(await app.dataSource.query(`SELECT 1 FROM mail_outbox WHERE purpose = 'new_device_alert'`)).toEqual([]);
    expect(await app.dataSource.query(`SELECT 1 FROM auth_events WHERE type = 'new_device_alert'`)).toEqual([]);
  });
});
