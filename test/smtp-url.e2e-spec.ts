import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SmtpMailTransport, SmtpUrlError } from '../src/auth/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { TestMailServer } from './support/mail.js';
import { registerAndLogin, startApp, type TestApp } from './support/test-app.js';

/**
 * SMTP_URL cannot switch TLS off by accident: against a real SMTP server (which offers no
 * STARTTLS) listening on 127.0.0.2, an address of this machine that is not one of the names
 * counted as localhost, so it stands for a relay on the network.
 */
describe('SMTP URL: TLS to a relay unless plain text to it is allowed by name', () => {
  let relay: TestMailServer;
  let database: TestDatabase;
  beforeAll(async () => {
    relay = await TestMailServer.start('127.0.0.2');
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database.drop();
    await relay.down();
  });

  const message = (to: string) => ({
    from: 'Tests <no-reply@example.com>',
    to,
    subject: 'hello',
    text: 'hi',
    html: '<p>hi</p>',
  });

  it('smtp:// to a relay requires STARTTLS: a server that does not offer it gets no mail', async () => {
    const to = `plain.${Date.now()}@example.com`;
    await expect(new SmtpMailTransport(relay.url).send(message(to))).rejects.toThrow(/STARTTLS/);
    expect(relay.to(to)).toEqual([]);
  });

  it('a relay named in allowPlaintextTo gets the mail in plain text, also with the options that weaken TLS', async () => {
    const first = `allowed.${Date.now()}@example.com`;
    await new SmtpMailTransport(relay.url, { allowPlaintextTo: ['127.0.0.2'] }).send(message(first));
    expect(relay.to(first)).toHaveLength(1);
    const second = `allowed.ignore.${Date.now()}@example.com`;
    const weakened = `${relay.url}/?ignoreTLS=true&requireTLS=false&tls.rejectUnauthorized=false`;
    await new SmtpMailTransport(weakened, { allowPlaintextTo: ['127.0.0.2'] }).send(message(second));
    expect(relay.to(second)).toHaveLength(1);
  });

  it.each([
    ['?requireTLS=false', /option requireTLS=false weakens TLS to 127\.0\.0\.2/],
    ['?ignoreTLS=true', /option ignoreTLS=true weakens TLS to 127\.0\.0\.2/],
    ['?tls.rejectUnauthorized=false', /option tls\.rejectUnauthorized=false weakens TLS to 127\.0\.0\.2/],
    ['?secure=false', /option "secure" is not supported/],
    ['?service=gmail', /option "service" is not supported/],
  ])('the module refuses to start with %s in the URL of a relay not allowed plain text', async (query, refusal) => {
    const smtpUrl = `smtp://alice:hunter2-secret@127.0.0.2:${relay.port}/${query}`;
    const started = startApp(database.url, { config: { smtpUrl } });
    await expect(started).rejects.toThrow(SmtpUrlError);
    const error = (await started.catch((caught: unknown) => caught)) as Error;
    expect(error.message).toMatch(refusal);
    expect(error.message).not.toMatch(/hunter2|alice/);
  });

  it('the module refuses a URL that parsers read differently (a backslash before "@localhost")', async () => {
    const started = startApp(database.url, { config: { smtpUrl: `smtp://127.0.0.2\\@localhost:${relay.port}/` } });
    await expect(started).rejects.toThrow(/must not contain a backslash/);
  });

  describe('the app with SMTP_URL to a relay named in SMTP_ALLOW_PLAINTEXT_TO', () => {
    let app: TestApp;
    beforeAll(async () => {
      app = await startApp(database.url, {
        config: { smtpUrl: `${relay.url}/?ignoreTLS=true`, smtpAllowPlaintextTo: ['127.0.0.2'] },
      });
    });
    afterAll(async () => {
      await app.close();
    });

    it('sends the password reset link through it', async () => {
      const user = await registerAndLogin(app.http);
      await app.http.post('/auth/password/forgot').send({ email: user.email }).expect(202);
      const sent = await relay.nth(user.email, 'reset-password');
      expect(sent.subject).toMatch(/^Reset your password/);
    });
  });
});
