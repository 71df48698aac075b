import { describe, expect, it } from '@jest/globals';
import { CookieTransportService } from './cookie-transport.service.js';
import { readCookie } from './cookies.js';
import { assertCsrfSafe, changesState } from './csrf.js';

describe('readCookie', () => {
  it('finds one cookie by its exact name among others, in one pass', () => {
    const header = 'theme=dark; __Host-auth_access=abc.def.ghi;  other="x"; __Secure-auth_refresh="r.s.t"';
    expect(readCookie(header, '__Host-auth_access')).toBe('abc.def.ghi');
    expect(readCookie(header, '__Secure-auth_refresh')).toBe('r.s.t');
    expect(readCookie(header, 'auth_access')).toBeNull();
    expect(readCookie('x__Host-auth_access=no', '__Host-auth_access')).toBeNull();
    expect(readCookie('__Host-auth_access=', '__Host-auth_access')).toBeNull();
    expect(readCookie(undefined, 'a')).toBeNull();
    expect(readCookie(['a=1'], 'a')).toBeNull();
  });

  it('takes linear time on a long header of many cookies', () => {
    const header = Array.from({ length: 1500 }, (_, index) => `c${index}=${'v'.repeat(5)}`).join('; ');
    const started = performance.now();
    for (let round = 0; round < 100; round += 1) readCookie(header, '__Host-auth_access');
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe('the refresh cookie path', () => {
  const transport = (prefix: string) => new CookieTransportService({} as never, prefix, {} as never, {} as never);

  it('is the module’s refresh route, after whatever global prefix the host adds', () => {
    expect(transport('auth').refreshPath({ url: '/auth/login', headers: {} })).toBe('/auth/refresh');
    expect(transport('auth').refreshPath({ url: '/api/v1/auth/sessions/123?x=1', headers: {} })).toBe(
      '/api/v1/auth/refresh',
    );
    expect(transport('account/auth').refreshPath({ url: '/account/auth/logout', headers: {} })).toBe(
      '/account/auth/refresh',
    );
  });

  it('takes only the path of an absolute request line, and never lets a character end the attribute', () => {
    const refreshPath = (url: string) => transport('auth').refreshPath({ url, headers: {} });
    expect(refreshPath('http://a;Domain=evil.com;SameSite=None@h/api/auth/login')).toBe('/api/auth/refresh');
    expect(refreshPath('/x;Domain=evil.com/auth/login')).toBe('/auth/refresh');
    expect(refreshPath('/a b/auth/login')).toBe('/a%20b/auth/refresh');
    expect(refreshPath('/auth/v1/auth/sessions/1')).toBe('/auth/v1/auth/refresh');
  });
});

describe('changesState', () => {
  it('is every method but GET, HEAD and OPTIONS', () => {
    for (const method of ['GET', 'head', 'OPTIONS']) expect(changesState({ method, headers: {} })).toBe(false);
    for (const method of ['POST', 'put', 'PATCH', 'DELETE', 'PROPPATCH', 'MKCOL', 'LOCK']) {
      expect(changesState({ method, headers: {} })).toBe(true);
    }
  });
});

describe('assertCsrfSafe', () => {
  const trusted = new Set(['https://admin.example']);
  const check = (headers: Record<string, string>) => () => assertCsrfSafe({ method: 'POST', headers }, trusted);

  it('accepts the app’s own origin, a trusted one, or none, with the transport header', () => {
    expect(
      check({ 'x-auth-transport': 'cookie', host: 'app.example:8443', origin: 'https://app.example:8443' }),
    ).not.toThrow();
    expect(
      check({ 'x-auth-transport': 'Cookie ', host: 'app.example', origin: 'https://admin.example' }),
    ).not.toThrow();
    expect(check({ 'x-auth-transport': 'cookie', host: 'app.example', 'sec-fetch-site': 'same-origin' })).not.toThrow();
    // HTTP/2: no Host header, the :authority pseudo-header instead.
    expect(
      check({ 'x-auth-transport': 'cookie', ':authority': 'app.example', origin: 'https://app.example' }),
    ).not.toThrow();
  });

  it('refuses everything else with 403 CSRF check failed', () => {
    const refused: Array<Record<string, string>> = [
      { host: 'app.example' },
      { 'x-auth-transport': 'cookie', host: 'app.example', 'sec-fetch-site': 'cross-site' },
      { 'x-auth-transport': 'cookie', host: 'app.example', origin: 'https://app.example.evil' },
      { 'x-auth-transport': 'cookie', host: 'app.example', origin: 'https://app.example/path' },
      { 'x-auth-transport': 'cookie', host: 'app.example', origin: 'ftp://app.example' },
      { 'x-auth-transport': 'cookie', origin: 'https://app.example' },
    ];
    for (const headers of refused) {
      expect(check(headers)).toThrow('CSRF check failed');
    }
  });
});
