import { isIP, isIPv4, isIPv6 } from 'node:net';

/** Longest user agent kept on a session, in characters (code points), as the column holds. */
export const MAX_USER_AGENT_CHARS = 512;
/** Longest device name, in characters (code points), as the column holds. */
export const MAX_DEVICE_NAME_CHARS = 100;

/** The parts of an HTTP request (Express or Fastify) the module reads the client from. */
export interface ClientRequest {
  ip?: string;
  socket?: { remoteAddress?: string };
  headers: Record<string, string | string[] | undefined>;
}

/**
 * The client's address: the framework's `ip` (which honours the host's trusted proxies) when it
 * is a valid IP address, otherwise the socket's. A forwarded header can name anything; only an
 * address is ever used or stored. IPv4-mapped IPv6 addresses are written as IPv4, zones dropped.
 */
export function clientAddress(request: ClientRequest): string | null {
  return normaliseIp(request.ip) ?? normaliseIp(request.socket?.remoteAddress) ?? null;
}

export function normaliseIp(value: string | undefined): string | null {
  if (typeof value !== 'string' || value.length > 100) return null;
  let ip = value.trim();
  const zone = ip.indexOf('%');
  if (zone !== -1) ip = ip.slice(0, zone);
  if (isIP(ip) === 0) return null;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped && isIPv4(mapped[1])) return mapped[1];
  return ip.toLowerCase();
}

/**
 * The key a client is counted under for throttling: an IPv4 address as it is, an IPv6 address by
 * its /64 (one subscriber usually holds a whole /64 and can pick any address in it).
 */
export function throttleKey(ip: string | null): string {
  if (ip === null) return 'unknown';
  if (!isIPv6(ip)) return ip;
  const hextets = expandIpv6(ip);
  return `${hextets.slice(0, 4).join(':')}::/64`;
}

/**
 * The wider network a client's address belongs to, for the second limit on registrations and
 * mails: an IPv6 address's /48 (65,536 /64s, what one site is usually given, so a /64 per request
 * costs an attacker nothing). Null for IPv4 (an address is already scarce) and unknown clients.
 */
export function throttleNetworkKey(ip: string | null): string | null {
  if (ip === null || !isIPv6(ip)) return null;
  return `${expandIpv6(ip).slice(0, 3).join(':')}::/48`;
}

/**
 * The network a new-device alert names (as the event store's `network` writes it): an IPv4
 * address's /24, an IPv6 address's /48 in its short form (`2001:db8:aa::/48`). Null for none.
 */
export function alertNetworkOf(ip: string | null): string | null {
  if (ip === null) return null;
  if (isIPv4(ip)) return `${ip.split('.').slice(0, 3).join('.')}.0/24`;
  if (!isIPv6(ip)) return null;
  const prefix = expandIpv6(ip)
    .slice(0, 3)
    .map((group) => group.replace(/^0+(?=.)/, ''));
  while (prefix.length > 0 && prefix.at(-1) === '0') prefix.pop();
  return `${prefix.join(':')}::/48`;
}

/** The eight 16-bit groups of a valid IPv6 address, as 4-digit lower-case hex. */
function expandIpv6(ip: string): string[] {
  let text = ip.toLowerCase();
  // A dotted IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number);
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest === undefined ? [] : rest ? rest.split(':') : [];
  const missing = 8 - left.length - right.length;
  const groups = rest === undefined ? left : [...left, ...Array<string>(missing).fill('0'), ...right];
  return groups.map((group) => group.padStart(4, '0'));
}

/** The first `max` characters (code points, as PostgreSQL counts them) of `text`. */
export function truncateCodePoints(text: string, max: number): string {
  let count = 0;
  for (let index = 0; index < text.length;) {
    if (count === max) return text.slice(0, index);
    const code = text.codePointAt(index) as number;
    index += code > 0xffff ? 2 : 1;
    count += 1;
  }
  return text;
}

/** The number of characters (code points) of `text`, as PostgreSQL's varchar(n) counts them. */
export function codePointLength(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    // A high surrogate followed by a low one is one character.
    if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index += 1;
    }
    count += 1;
  }
  return count;
}

/** A user agent fit for the column: NUL removed (PostgreSQL text cannot hold it), at most 512 characters. */
export function storableUserAgent(value: string | string[] | undefined): string | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || text === '') return null;
  return truncateCodePoints(text.replaceAll('\u0000', ''), MAX_USER_AGENT_CHARS);
}
