import { describe, expect, it } from '@jest/globals';
import { CliUsageError, parseCliCommand, parseInstant } from './cli-commands.js';

describe('parseCliCommand', () => {
  it('knows the five commands and which of them touch keys', () => {
    expect(
      [['purge'], ['revoke-user', 'a@example.com'], ['keys', 'list'], ['keys', 'rotate'], ['keys', 'retire']].map(
        (argv) => {
          const command = parseCliCommand(argv);
          return [command.name, command.keys];
        },
      ),
    ).toEqual([
      ['purge', 'none'],
      ['revoke-user', 'none'],
      ['keys list', 'read'],
      ['keys rotate', 'write'],
      ['keys retire', 'read'],
    ]);
  });

  it.each([
    [[], 'No command given'],
    [['frobnicate'], 'Unknown command: frobnicate'],
    [['keys'], 'keys needs an action: list, rotate or retire'],
    [['keys', 'shuffle'], 'Unknown keys action: shuffle'],
    [['keys', 'list', 'all'], 'keys list takes no arguments (got: all)'],
    [['keys', 'rotate', '--algorithm', 'RS256'], '--algorithm must be one of HS256, HS384, HS512, EdDSA, ES256'],
    [['keys', 'rotate', '--force'], "Unknown option '--force'"],
    [['revoke-user'], 'revoke-user takes exactly one email'],
    [['revoke-user', 'a@example.com', 'b@example.com'], 'revoke-user takes exactly one email'],
    [['revoke-user', 'a@example.com', '--until'], "Option '--until <value>' argument missing"],
    [['purge', '--now'], 'purge takes no arguments (got: --now)'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseCliCommand(argv)).toThrow(CliUsageError);
    expect(() => parseCliCommand(argv)).toThrow(message);
  });
});

describe('parseInstant', () => {
  it('takes ISO-8601 with a zone, or a date alone (UTC)', () => {
    expect(parseInstant('2026-12-01T10:00:00Z').toISOString()).toBe('2026-12-01T10:00:00.000Z');
    expect(parseInstant('2026-12-01T12:00+02:00').toISOString()).toBe('2026-12-01T10:00:00.000Z');
    expect(parseInstant('2026-12-01').toISOString()).toBe('2026-12-01T00:00:00.000Z');
  });

  it.each(['next tuesday', '2026-12-01T10:00:00', '2026-13-01T00:00:00Z', '1764000000', ''])(
    'refuses %j: a time without a zone would depend on the machine',
    (text) => {
      expect(() => parseInstant(text)).toThrow('--until must be an ISO-8601 date-time');
    },
  );
});
