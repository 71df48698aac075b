import { describe, expect, it } from '@jest/globals';
import { canonicalSmtpHost, parseSmtpUrl, SmtpUrlError } from './smtp-url.js';
import { SmtpMailTransport } from './smtp-mail.transport.js';

const refusal = (url: string, allowPlaintextTo?: string[]): string => {
  try {
    parseSmtpUrl(url, { allowPlaintextTo });
  } catch (error) {
    expect(error).toBeInstanceOf(SmtpUrlError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${url}`);
};

describe('parseSmtpUrl', () => {
  it('smtp:// to another host requires STARTTLS and checks certificates; smtps:// is TLS from the start', () => {
    expect(parseSmtpUrl('smtp://user:pass@mail.example.com:587')).toEqual({
      host: 'mail.example.com',
      port: 587,
      secure: false,
      requireTLS: true,
      ignoreTLS: false,
      tls: { rejectUnauthorized: true },
      auth: { user: 'user', pass: 'pass' },
    });
    expect(parseSmtpUrl('smtps://mail.example.com')).toMatchObject({
      host: 'mail.example.com',
      port: 465,
      secure: true,
      requireTLS: false,
      tls: { rejectUnauthorized: true },
    });
    expect(parseSmtpUrl('smtp://mail.example.com')).toMatchObject({ port: 587, requireTLS: true });
  });

  it('decodes a percent-encoded user name and password (an "@" in them is %40)', () => {
    expect(parseSmtpUrl('smtp://me%40example.com:p%40ss%3Aw%2Fd@mail.example.com/').auth).toEqual({
      user: 'me@example.com',
      pass: 'p@ss:w/d',
    });
  });

  it.each([
    ['smtp://localhost:25', 'localhost'],
    ['smtp://LOCALHOST:25', 'localhost'],
    ['smtp://LocalHost.:25', 'localhost.'],
    ['smtp://127.0.0.1:25', '127.0.0.1'],
    ['smtp://[::1]:25', '::1'],
    ['smtp://[0:0:0:0:0:0:0:1]:25', '::1'],
    ['smtp://local%68ost:25', 'localhost'],
    ['smtp://MAIL.Example.COM', 'mail.example.com'],
    ['smtp://Bücher.example', 'xn--bcher-kva.example'],
    ['smtp://0x7f.1:25', '127.0.0.1'],
    ['smtp://[FD00::0001]', 'fd00::1'],
  ])('%s connects to %s', (url, host) => {
    expect(parseSmtpUrl(url).host).toBe(host);
  });

  it.each([
    ['smtp://localhost:25', false],
    ['smtp://LOCALHOST:25', false],
    ['smtp://127.0.0.1:25', false],
    ['smtp://[::1]:25', false],
    ['smtp://[0:0:0:0:0:0:0:1]:25', false],
    // Only those three names count as this machine; anything else must use STARTTLS.
    ['smtp://localhost.:25', true],
    ['smtp://127.0.0.2:25', true],
    ['smtp://localhost.example.com:25', true],
    ['smtp://[::ffff:127.0.0.1]:25', true],
  ])('%s requires STARTTLS: %s', (url, required) => {
    expect(parseSmtpUrl(url).requireTLS).toBe(required);
  });

  it.each([
    // The "is it localhost" test and nodemailer's parser used to disagree on these: refused.
    ['smtp://relay.example\\@localhost:25/', /backslash/],
    ['smtp://relay.example\\localhost:25/', /backslash/],
    ['smtp://user:p@ss@relay.example:25/', /more than one "@".*%40/],
    ['smtp://relay.example@evil@localhost/', /more than one "@"/],
    ['smtp://localhost /', /whitespace/],
    ['smtp://localhost\t.example/', /whitespace/],
    ['smtp://local\u0000host/', /control/],
    ['smtp:localhost:25', /must start with smtp:\/\/ or smtps:\/\//],
    ['http://localhost:25', /must start with smtp:\/\/ or smtps:\/\//],
    ['smtp://localhost:99999', /not a valid URL/],
    ['smtp://localhost:0', /port/],
    ['smtp://', /not a valid URL|must name a host/],
    ['smtp://localhost/relay.example', /path/],
    ['smtp://localhost/#relay.example', /fragment/],
    ['smtp://local%2Fhost/', /must name a host/],
    ['smtp://local%ZZhost/', /must name a host|malformed/],
    ['smtp://u:%ZZ@mail.example.com/', /malformed %-escape/],
  ])('refuses %s', (url, message) => {
    expect(refusal(url)).toMatch(message);
  });

  it.each([
    'smtp://mail.example.com/?requireTLS=false',
    'smtp://mail.example.com/?ignoreTLS=true',
    'smtp://mail.example.com/?tls.rejectUnauthorized=false',
    'smtps://mail.example.com/?tls.rejectUnauthorized=false',
    'smtp://MAIL.example.com/?name=me&requireTLS=false',
    'smtp://127.0.0.2:25/?ignoreTLS=true',
  ])('refuses %s: it weakens TLS to a host not allowed plain text', (url) => {
    expect(refusal(url)).toMatch(
      /weakens TLS to (mail\.example\.com|127\.0\.0\.2): allowed only for localhost or a relay named in allowPlaintextTo/,
    );
  });

  it.each([
    ['secure=false', /"secure" is not supported/],
    ['service=gmail', /"service" is not supported/],
    ['host=localhost', /"host" is not supported/],
    ['port=25', /"port" is not supported/],
    ['proxy=socks5://evil:1080', /"proxy" is not supported/],
    ['opportunisticTLS=true', /"opportunisticTLS" is not supported/],
    ['tls.servername=evil.example', /"tls.servername" is not supported/],
    ['tls.minVersion=TLSv1', /"tls.minVersion" is not supported/],
    ['tls.ca=x', /"tls.ca" is not supported/],
    ['tls.checkServerIdentity=x', /"tls.checkServerIdentity" is not supported/],
    ['sendmail=true', /"sendmail" is not supported/],
    ['direct=true', /"direct" is not supported/],
    ['pool=true', /"pool" is not supported/],
    ['debug=true', /"debug" is not supported/],
    ['requiretls=false', /"requiretls" is not supported/],
    ['requireTLS=no', /requireTLS must be true or false/],
    ['requireTLS=0', /requireTLS must be true or false/],
    ['requireTLS=true&requireTLS=false', /"requireTLS" is given twice/],
    ['name=', /"name" must not be empty/],
  ])('refuses the query option %s', (query, message) => {
    // Even to localhost: an unknown option is refused wherever it points.
    expect(refusal(`smtp://localhost/?${query}`)).toMatch(message);
  });

  it('accepts the options that keep TLS as it is, and an EHLO name', () => {
    expect(
      parseSmtpUrl(
        'smtp://mail.example.com/?requireTLS=true&ignoreTLS=false&tls.rejectUnauthorized=true&name=app.example',
      ),
    ).toMatchObject({ requireTLS: true, ignoreTLS: false, tls: { rejectUnauthorized: true }, name: 'app.example' });
  });

  it('allows plain text and the weakening options to this machine and to the relays named in allowPlaintextTo', () => {
    expect(parseSmtpUrl('smtp://localhost/?ignoreTLS=true&tls.rejectUnauthorized=false')).toMatchObject({
      requireTLS: false,
      ignoreTLS: true,
      tls: { rejectUnauthorized: false },
    });
    const allow = { allowPlaintextTo: ['Relay.Internal', '10.0.0.25', '[fd00::25]', 'fd00::26'] };
    expect(parseSmtpUrl('smtp://relay.internal:25', allow)).toMatchObject({
      host: 'relay.internal',
      requireTLS: false,
    });
    expect(parseSmtpUrl('smtp://RELAY.internal:25/?requireTLS=false&ignoreTLS=true', allow)).toMatchObject({
      requireTLS: false,
      ignoreTLS: true,
    });
    expect(parseSmtpUrl('smtp://10.0.0.25/?tls.rejectUnauthorized=false', allow).tls.rejectUnauthorized).toBe(false);
    expect(parseSmtpUrl('smtp://[FD00:0::25]/?ignoreTLS=true', allow).ignoreTLS).toBe(true);
    expect(parseSmtpUrl('smtp://[fd00::26]', allow).requireTLS).toBe(false);
    // Only the host named: not another one, not a subdomain, not a look-alike.
    expect(parseSmtpUrl('smtp://mail.example.com', allow).requireTLS).toBe(true);
    expect(parseSmtpUrl('smtp://a.relay.internal', allow).requireTLS).toBe(true);
    expect(refusal('smtp://relay.internal.evil/?requireTLS=false', allow['allowPlaintextTo'])).toMatch(/weakens TLS/);
    expect(refusal('smtp://relay.internal\\@x/?requireTLS=false', allow['allowPlaintextTo'])).toMatch(/backslash/);
    // Asking for TLS to an allowed relay still gets it.
    expect(parseSmtpUrl('smtp://relay.internal/?requireTLS=true', allow).requireTLS).toBe(true);
  });

  it('never puts the password or the user name into a refusal', () => {
    const urls = [
      'smtp://alice:hunter2-secret@mail.example.com/?requireTLS=false',
      'smtp://alice:hunter2@secret@mail.example.com/',
      'smtp://alice:hunter2-secret@mail.example.com\\@localhost/',
      'smtp://alice:hunter2-secret@mail.example.com/path',
      'smtp://alice:hunter2-secret@mail.example.com/?unknown=1',
    ];
    for (const url of urls) {
      const message = refusal(url);
      expect(message).not.toMatch(/hunter2|secret|alice/);
    }
  });

  it('canonicalSmtpHost: the form a relay name is compared in; a name with a port, a path or a user is refused', () => {
    expect(canonicalSmtpHost(' Relay.Internal ')).toBe('relay.internal');
    expect(canonicalSmtpHost('[::1]')).toBe('::1');
    expect(canonicalSmtpHost('FD00::1')).toBe('fd00::1');
    for (const bad of ['', 'relay:25', '[::1]:25', 'relay/x', 'u@relay', 'a\\b', 'a b', '[zz]']) {
      expect(() => canonicalSmtpHost(bad)).toThrow(/is not a host name|must name a host/);
    }
  });
});

describe('SmtpMailTransport', () => {
  it('hands nodemailer the host it judged, never the URL', () => {
    const transport = new SmtpMailTransport('smtp://u:p@MAIL.Example.com:2525/?name=app.example');
    const options = (transport as unknown as { transporter: { options: Record<string, unknown> } }).transporter.options;
    expect(options).toMatchObject({ host: 'mail.example.com', port: 2525, requireTLS: true, name: 'app.example' });
    expect(options.url).toBeUndefined();
  });

  it('refuses a URL that weakens TLS when it is constructed', () => {
    expect(() => new SmtpMailTransport('smtp://mail.example.com/?ignoreTLS=true')).toThrow(SmtpUrlError);
    expect(
      () =>
        new SmtpMailTransport('smtp://mail.example.com/?ignoreTLS=true', { allowPlaintextTo: ['mail.example.com'] }),
    ).not.toThrow();
  });
});
