import { domainToASCII } from 'node:url';

/** What `SmtpMailTransport` accepts besides the URL. */
export interface SmtpTransportOptions {
  /**
   * Relays (host names or IP addresses, as written in the URL) that may be reached without TLS:
   * `smtp://` to them does not require STARTTLS, and the URL may weaken TLS for them
   * (`requireTLS=false`, `ignoreTLS=true`, `tls.rejectUnauthorized=false`). `localhost`,
   * `127.0.0.1` and `[::1]` always may. Default: none.
   */
  allowPlaintextTo?: readonly string[];
}

/** The nodemailer connection options an SMTP URL stands for: the host is the one it connects to. */
export interface SmtpConnection {
  /** Lower case, IDNA (punycode) form; an IPv6 address without brackets. */
  host: string;
  port: number;
  /** smtps://: TLS from the first byte. */
  secure: boolean;
  /** smtp://: the send fails unless the server upgrades with STARTTLS. */
  requireTLS: boolean;
  ignoreTLS: boolean;
  tls: { rejectUnauthorized: boolean };
  auth?: { user: string; pass: string };
  /** EHLO name (`?name=`). */
  name?: string;
}

/** A refused SMTP URL. The message never holds the URL, its user name or its password. */
export class SmtpUrlError extends Error {
  override readonly name = 'SmtpUrlError';
}

/** The query options the URL may carry; anything else of nodemailer's URL options is refused. */
const BOOLEAN_OPTIONS = ['requireTLS', 'ignoreTLS', 'tls.rejectUnauthorized'] as const;
type BooleanOption = (typeof BOOLEAN_OPTIONS)[number];
/** The value of each boolean option that weakens TLS. */
const WEAKENING: Record<BooleanOption, boolean> = {
  requireTLS: false,
  ignoreTLS: true,
  'tls.rejectUnauthorized': false,
};
const SUPPORTED = ['name', ...BOOLEAN_OPTIONS].join(', ');

/** This machine, as the URL may name it: mail to it never crosses a network. */
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/**
 * Parses an `smtp://` or `smtps://` URL into the options nodemailer is given, so that the host
 * judged here is the host connected to (nodemailer never parses the URL itself). Input that URL
 * parsers read differently is refused: a backslash, whitespace or a control character anywhere,
 * more than one `@` in the authority (write `@` in a user name or password as `%40`), a path or a
 * fragment, a repeated or unknown query option. `smtp://` requires STARTTLS, and the options that
 * weaken TLS are refused, unless the host is this machine or named in `allowPlaintextTo`.
 */
export function parseSmtpUrl(url: string, options: SmtpTransportOptions = {}): SmtpConnection {
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/[\s\\\x00-\x1f\x7f]/.test(url)) {
    throw new SmtpUrlError('SMTP URL must not contain a backslash, whitespace or control characters');
  }
  const scheme = /^(smtps?):\/\//i.exec(url);
  if (!scheme) throw new SmtpUrlError('SMTP URL must start with smtp:// or smtps://');
  const authority = url.slice(scheme[0].length).split(/[/?#]/, 1)[0];
  if (authority.split('@').length > 2) {
    throw new SmtpUrlError(
      'SMTP URL has more than one "@" before the host: write "@" in a user name or password as %40',
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SmtpUrlError('SMTP URL is not a valid URL');
  }
  const secure = scheme[1].toLowerCase() === 'smtps';
  const host = canonicalHost(parsed.hostname);
  if (parsed.pathname !== '' && parsed.pathname !== '/') throw new SmtpUrlError('SMTP URL must not have a path');
  if (parsed.hash !== '') throw new SmtpUrlError('SMTP URL must not have a fragment');
  const port = parsed.port === '' ? (secure ? 465 : 587) : Number(parsed.port);
  if (port === 0) throw new SmtpUrlError('SMTP URL port must be 1 to 65535');

  const plaintextAllowed = LOOPBACK.has(host) || allowedRelays(options.allowPlaintextTo).has(host);
  const flags: Partial<Record<BooleanOption, boolean>> = {};
  let name: string | undefined;
  const seen = new Set<string>();
  for (const [key, value] of parsed.searchParams) {
    const shown = JSON.stringify(key.slice(0, 40));
    if (seen.has(key)) throw new SmtpUrlError(`SMTP URL option ${shown} is given twice`);
    seen.add(key);
    if (key === 'name') {
      if (value === '') throw new SmtpUrlError('SMTP URL option "name" must not be empty');
      name = value;
      continue;
    }
    if (!(BOOLEAN_OPTIONS as readonly string[]).includes(key)) {
      throw new SmtpUrlError(`SMTP URL option ${shown} is not supported (supported: ${SUPPORTED})`);
    }
    if (value !== 'true' && value !== 'false') throw new SmtpUrlError(`SMTP URL option ${key} must be true or false`);
    const option = key as BooleanOption;
    flags[option] = value === 'true';
    if (flags[option] === WEAKENING[option] && !plaintextAllowed) {
      throw new SmtpUrlError(
        `SMTP URL option ${key}=${value} weakens TLS to ${host}: allowed only for localhost or a relay named in allowPlaintextTo`,
      );
    }
  }

  let auth: SmtpConnection['auth'];
  if (parsed.username !== '' || parsed.password !== '') {
    try {
      auth = { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) };
    } catch {
      throw new SmtpUrlError('SMTP URL user name or password has a malformed %-escape');
    }
  }
  return {
    host,
    port,
    secure,
    // Links must not cross a network in the clear: smtp:// upgrades with STARTTLS (a stripped
    // offer fails the send) unless plain text is allowed to this host.
    requireTLS: !secure && (flags.requireTLS ?? !plaintextAllowed),
    ignoreTLS: flags.ignoreTLS ?? false,
    tls: { rejectUnauthorized: flags['tls.rejectUnauthorized'] ?? true },
    ...(auth ? { auth } : {}),
    ...(name === undefined ? {} : { name }),
  };
}

/**
 * A host as written in a URL (or in `allowPlaintextTo`) in the one form compared and connected
 * to: lower case, IDNA-mapped (punycode), an IPv4 address in dotted-decimal form, an IPv6 address
 * compressed and without brackets.
 */
export function canonicalSmtpHost(written: string): string {
  const trimmed = written.trim();
  const refused = new SmtpUrlError(`SMTP relay name ${JSON.stringify(written.slice(0, 60))} is not a host name`);
  if (trimmed === '' || /[\s/?#@\\]/.test(trimmed)) throw refused;
  // An IPv6 address, bracketed or not: the URL parser checks and compresses it.
  const bracketed = trimmed.includes(':') && !trimmed.startsWith('[') ? `[${trimmed}]` : trimmed;
  let parsed: URL;
  try {
    parsed = new URL(`smtp://${bracketed}`);
  } catch {
    throw refused;
  }
  if (parsed.port !== '' || parsed.username !== '' || parsed.password !== '') throw refused;
  return canonicalHost(parsed.hostname);
}

function canonicalHost(hostname: string): string {
  if (hostname.startsWith('[') && hostname.endsWith(']')) return hostname.slice(1, -1).toLowerCase();
  let decoded: string;
  try {
    decoded = decodeURIComponent(hostname);
  } catch {
    throw new SmtpUrlError('SMTP URL host has a malformed %-escape');
  }
  // WHATWG's host rules for a domain: IDNA mapping, lower case, IPv4 forms; '' for a refused host.
  const ascii = /[\s%/:?#@[\]\\<>^|]/.test(decoded) ? '' : domainToASCII(decoded);
  if (ascii === '') throw new SmtpUrlError('SMTP URL must name a host');
  return ascii;
}

function allowedRelays(relays: readonly string[] | undefined): Set<string> {
  return new Set((relays ?? []).map(canonicalSmtpHost));
}
