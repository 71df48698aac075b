import { describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { CliUsageError, parseCliCommand, parseInstant } from './cli-commands.js';

describe('parseCliCommand', () => {
  it('knows the eight commands and which of them touch keys', () => {
    expect(
      [
        ['purge'],
        ['revoke-user', 'a@example.com'],
        ['keys', 'list'],
        ['keys', 'rotate'],
        ['keys', 'retire'],
        ['keys', 'revoke', 'kyJANJaLzcExiAH9iFukOa6XmpyUB2pcGWY67dO3bL4'],
        ['keys', 'reencrypt'],
        ['mfa', 'reset', 'a@example.com'],
      ].map((argv) => {
        const command = parseCliCommand(argv);
        return [command.name, command.keys];
      }),
    ).toEqual([
      ['purge', 'none'],
      ['revoke-user', 'none'],
      ['keys list', 'read'],
      ['keys rotate', 'write'],
      ['keys retire', 'read'],
      // The key-encryption secret only to replace the key that signs now: the service says so.
      ['keys revoke', 'read'],
      ['keys reencrypt', 'write'],
      ['mfa reset', 'none'],
    ]);
  });

  it.each([
    [[], 'No command given'],
    [['frobnicate'], 'Unknown command: frobnicate'],
    [['keys'], 'keys needs an action: list, rotate, retire, revoke or reencrypt'],
    [['keys', 'revoke'], 'keys revoke takes exactly one kid (keys list shows them)'],
    [['keys', 'revoke', 'a', 'b'], 'keys revoke takes exactly one kid (keys list shows them)'],
    [['keys', 'revoke', '../etc'], '"../etc" is not a key id (keys list shows them)'],
    [['keys', 'revoke', 'a', '--force'], "Unknown option '--force'"],
    [['keys', 'reencrypt', 'now'], 'keys reencrypt takes no arguments (got: now)'],
    [['keys', 'shuffle'], 'Unknown keys action: shuffle'],
    [['keys', 'list', 'all'], 'keys list takes no arguments (got: all)'],
    [['keys', 'rotate', '--algorithm', 'RS256'], '--algorithm must be one of HS256, HS384, HS512, EdDSA, ES256'],
    [['keys', 'rotate', '--force'], "Unknown option '--force'"],
    [['revoke-user'], 'revoke-user takes exactly one email'],
    [['revoke-user', 'a@example.com', 'b@example.com'], 'revoke-user takes exactly one email'],
    [['revoke-user', 'a@example.com', '--until'], "Option '--until <value>' argument missing"],
    [['revoke-user', 'a@example.com', '--until', '2020-01-01T00:00:00Z'], '--until must be in the future'],
    [['purge', '--now'], 'purge takes no arguments (got: --now)'],
    [['mfa'], 'mfa needs an action: reset'],
    [['mfa', 'disable', 'a@example.com'], 'Unknown mfa action: disable'],
    [['mfa', 'reset'], 'mfa reset takes exactly one email'],
    [['mfa', 'reset', 'a@example.com', 'b@example.com'], 'mfa reset takes exactly one email'],
    [['mfa', 'reset', 'a@example.com', '--force'], "Unknown option '--force'"],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCliCommand(argv)).toThrow(CliUsageError);
    expect(() => parseCliCommand(argv)).toThrow(message);
  });
});

describe('parseInstant', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');

  it('takes ISO-8601 with a zone, or a date alone (UTC)', () => {
    expect(parseInstant('2026-12-01T10:00:00Z', now).toISOString()).toBe('2026-12-01T10:00:00.000Z');
    expect(parseInstant('2026-12-01T12:00+02:00', now).toISOString()).toBe('2026-12-01T10:00:00.000Z');
    expect(parseInstant('2026-12-01', now).toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(parseInstant('2028-02-29T00:00:00Z', now).toISOString()).toBe('2028-02-29T00:00:00.000Z');
  });

  it.each([
    'next tuesday',
    '2026-12-01T10:00:00',
    '2026-13-01T00:00:00Z',
    '2026-02-30T00:00:00Z',
    '2027-02-29',
    '2026-12-01T24:00:00Z',
    '2026-12-01T10:60:00Z',
    '2026-12-01T10:00:00+25:00',
    '1764000000',
    '',
  ])('refuses %j: not a real date and time with a zone', (text) => {
    expect(() => parseInstant(text, now)).toThrow('--until must be an ISO-8601 date-time');
  });

  it('refuses an instant already past: a suspension that has ended is a mistake, not a ban', () => {
    expect(() => parseInstant('2026-05-31T23:59:59Z', now)).toThrow('--until must be in the future');
    expect(() => parseInstant('2026-06-01T00:00:00Z', now)).toThrow('--until must be in the future');
  });
});

describe('what the commands do with the app’s services', () => {
  const lines: string[] = [];
  const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(line) };
  /** An application context whose every service is the given stub. */
  const contextWith = (service: object) => ({ get: () => service }) as unknown as INestApplicationContext;

  const rotation = (signingNow: string) => {
    const asked: Array<string | undefined> = [];
    const service = {
      list: async () => [
        { kid: 'old', algorithm: 'HS256', state: 'previous' },
        { kid: 'now', algorithm: signingNow, state: 'current' },
      ],
      rotate: async (algorithm?: string) => {
        asked.push(algorithm);
        return { kid: 'new', algorithm: algorithm ?? 'HS256', activatesAt: new Date('2026-12-01T00:10:00Z') };
      },
    };
    return { asked, app: contextWith(service) };
  };

  it('keys rotate adds a key of the algorithm that signs now, unless told otherwise', async () => {
    const fromCurrent = rotation('EdDSA');
    await parseCliCommand(['keys', 'rotate']).run(fromCurrent.app, output, { keyLifetimesKnown: true });
    const fromSettings = rotation('EdDSA');
    await parseCliCommand(['keys', 'rotate']).run(fromSettings.app, output, {
      keyLifetimesKnown: true,
      rotationAlgorithm: 'ES256',
    });
    const fromOption = rotation('EdDSA');
    await parseCliCommand(['keys', 'rotate', '--algorithm', 'HS256']).run(fromOption.app, output, {
      keyLifetimesKnown: true,
      rotationAlgorithm: 'ES256',
    });
    expect([fromCurrent.asked, fromSettings.asked, fromOption.asked]).toEqual([['EdDSA'], ['ES256'], ['HS256']]);
  });

  it('purge retires keys only when it knows the app’s token lifetimes', async () => {
    const asked: unknown[] = [];
    const result = {
      skipped: false,
      revokedTokens: 0,
      sessions: 0,
      loginFailures: 0,
      rateLimitHits: 0,
      deletedUsers: 0,
      accountTokens: 0,
      statements: 6,
      signingKeys: 0,
    };
    const app = contextWith({ purgeExpired: async (options: unknown) => (asked.push(options), result) });
    lines.length = 0;
    await parseCliCommand(['purge']).run(app, output, { keyLifetimesKnown: false });
    await parseCliCommand(['purge']).run(app, output, { keyLifetimesKnown: true });
    expect(asked).toEqual([{ retireKeys: false }, { retireKeys: true }]);
    expect(lines[0]).toMatch(/retired no signing key \(set ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL/);
    expect(lines[1]).toMatch(/and retired 0 signing key\(s\)\.$/);
  });
});
