import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MailOutboxService } from '../src/auth/index.js';
import { AUTH_MAIL_SETTINGS, type MailSettings } from '../src/auth/mail/mail-settings.js';
import { OUTBOX_AAD } from '../src/auth/mail/mail-outbox.service.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually } from './support/latch.js';
import { TestMailServer } from './support/mail.js';
import { PASSWORD, startTwoInstances, type TestApp, type TwoInstances, uniqueEmail } from './support/test-app.js';

/**
 * The outbox under a flood: reset mails go before verification mails, the link that expires
 * first goes first, a bounded number of mails is sent at once, and each is sent once.
 */
describe('the mail queue under a flood of verification mails, over a real SMTP server', () => {
  let mail: TestMailServer;
  let instances: TwoInstances;
  let clock: FakeClock;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    mail = await TestMailServer.start();
    clock = new FakeClock();
    instances = await startTwoInstances(clock, { smtpUrl: mail.url });
    ({ a, b } = instances);
  });
  afterAll(async () => {
    await instances.close();
    await mail.down();
  });

  /**
   * `count` verification mails queued at once (as a flood of registrations would), sealed as the
   * module seals them, their links valid for `linkSeconds` (a day, as the module's).
   */
  const flood = async (count: number, prefix: string, linkSeconds = 86_400) => {
    const settings = a.app.get<MailSettings>(AUTH_MAIL_SETTINGS);
    const seal = (text: string) =>
      settings.encryption.encrypt(Buffer.from(text, 'utf8'), OUTBOX_AAD, 'email_verification');
    const now = clock.now();
    const notAfter = new Date(now.getTime() + linkSeconds * 1000);
    await a.dataSource.query(
      `INSERT INTO mail_outbox (user_id, purpose, recipient, subject, body_text, body_html, created_at, next_attempt_at, not_after)
       SELECT NULL, 'email_verification', $1 || n || '@example.com', 'Confirm your email address', $2, NULL, $3, $3, $4
         FROM generate_series(1, $5) AS n`,
      [prefix, seal('flood: /account/verify-email?token=x'), now, notAfter, count],
    );
  };

  it('sends a reset mail asked for after 200 queued verification mails among the first ones, 4 at a time, each mail once', async () => {
    const user = uniqueEmail('reset');
    await a.http.post('/auth/register').send({ email: user, password: PASSWORD }).expect(201);
    await mail.nth(user, 'verify-email');
    const before = mail.received.length;

    await flood(200, 'flood.');
    await a.http
      .post('/auth/password/forgot')
      .set('X-Forwarded-For', '198.51.100.77')
      .send({ email: user })
      .expect(202);
    // Both instances drain the same queue, as they would after a kick or their timer.
    await Promise.all([a.app.get(MailOutboxService).drain(), b.app.get(MailOutboxService).drain()]);

    await eventually(() => mail.received.length - before >= 201, 20_000);
    const sent = mail.received.slice(before);
    const resetAt = sent.findIndex((received) => received.to === user);
    // Two instances, four senders each: the reset mail is in the first round of claims.
    expect(resetAt).toBeGreaterThanOrEqual(0);
    expect(resetAt).toBeLessThan(8);
    expect(sent).toHaveLength(201);
    expect(new Set(sent.map((received) => received.to)).size).toBe(201);
    expect((await a.dataSource.query('SELECT count(*)::int AS n FROM mail_outbox'))[0].n).toBe(0);
  });

  it('sends four mails at once per instance, never more, with a slow mail server', async () => {
    const before = mail.received.length;
    mail.maxInData = 0;
    const release = mail.holdDeliveries();
    await flood(12, 'slow.');
    const draining = a.app.get(MailOutboxService).drain();
    try {
      // Generous: four SMTP sessions reaching DATA took over 5 s once, under the full suite on 2 cores.
      await eventually(() => mail.inData === 4, 15_000);
    } finally {
      release();
      await draining;
    }
    expect(mail.received.length - before).toBe(12);
    expect(mail.maxInData).toBe(4);
  });

  it('sends the link that expires first first', async () => {
    const before = mail.received.length;
    await flood(40, 'late.');
    // Forty more whose links expire an hour sooner, queued after the others.
    await flood(40, 'soon.', 82_800);
    await a.app.get(MailOutboxService).drain();
    await eventually(() => mail.received.length - before >= 80, 20_000);
    const order = mail.received.slice(before).map((received) => received.to.split('.')[0]);
    // Each of the first 40 sent is one of the sooner links (4 senders may finish out of order by at most a few).
    expect(order.slice(0, 36).every((prefix) => prefix === 'soon')).toBe(true);
  });
});
