import { describe, expect, it } from '@jest/globals';
import { parseCliCommand } from './cli-commands.js';
import { OperatorEnvironmentError, readOperatorEnvironment } from './operator-environment.js';

const DATABASE_URL = 'postgres://user:pass@db.internal:5432/app';
const SECRET = 's'.repeat(32);

describe('readOperatorEnvironment', () => {
  it('needs only DATABASE_URL for purge', () => {
    expect(readOperatorEnvironment({ DATABASE_URL }, parseCliCommand(['purge']))).toEqual({
      databaseUrl: DATABASE_URL,
    });
  });

  it('needs one of the app’s secrets for what it announces (signed, or the app would drop it)', () => {
    const revoke = parseCliCommand(['revoke-user', 'a@example.com']);
    expect(() => readOperatorEnvironment({ DATABASE_URL }, revoke)).toThrow(
      'revoke-user needs NOTIFICATION_SECRET, JWT_SECRET or KEY_ENCRYPTION_SECRET',
    );
    expect(() =>
      readOperatorEnvironment(
        { DATABASE_URL, ACCESS_TOKEN_TTL: '900', REFRESH_TOKEN_TTL: '1209600' },
        parseCliCommand(['purge']),
      ),
    ).toThrow('purge needs NOTIFICATION_SECRET');
    expect(readOperatorEnvironment({ DATABASE_URL, NOTIFICATION_SECRET: SECRET }, revoke)).toEqual({
      databaseUrl: DATABASE_URL,
      notificationSecret: SECRET,
    });
    expect(() => readOperatorEnvironment({ DATABASE_URL, NOTIFICATION_SECRET: 'short' }, revoke)).toThrow(
      'NOTIFICATION_SECRET must be at least 32 bytes',
    );
  });

  it('reads the secrets, the algorithm and the app’s lifetimes into the module options', () => {
    const env = {
      DATABASE_URL,
      JWT_SECRET: SECRET,
      KEY_ENCRYPTION_SECRET: 'k'.repeat(40),
      JWT_ALGORITHM: 'EdDSA',
      ACCESS_TOKEN_TTL: '600',
      REFRESH_TOKEN_TTL: '2592000',
      CLOCK_TOLERANCE: '5',
      KEY_ACTIVATION_DELAY: '1200',
      SESSION_RETENTION: '864000',
      LOGIN_LOCKOUT_WINDOW: '1800',
    };
    expect(readOperatorEnvironment(env, parseCliCommand(['keys', 'rotate']))).toEqual({
      databaseUrl: DATABASE_URL,
      secret: SECRET,
      keyEncryptionSecret: 'k'.repeat(40),
      algorithm: 'EdDSA',
      accessTokenTtl: 600,
      refreshTokenTtl: 2_592_000,
      clockTolerance: 5,
      keyActivationDelay: 1200,
      sessionRetention: 864_000,
      loginLockoutWindow: 1800,
    });
  });

  it('takes a clock tolerance of 0, as the app does, and the lifetimes keys retire needs', () => {
    expect(
      readOperatorEnvironment(
        {
          DATABASE_URL,
          JWT_SECRET: SECRET,
          CLOCK_TOLERANCE: '0',
          ACCESS_TOKEN_TTL: '900',
          REFRESH_TOKEN_TTL: '1209600',
        },
        parseCliCommand(['keys', 'retire']),
      ),
    ).toEqual({
      databaseUrl: DATABASE_URL,
      secret: SECRET,
      clockTolerance: 0,
      accessTokenTtl: 900,
      refreshTokenTtl: 1_209_600,
    });
  });

  it.each([
    [{}, ['purge'], 'DATABASE_URL is required'],
    [{ DATABASE_URL: 'mysql://localhost/app' }, ['purge'], 'DATABASE_URL must be a postgres:// URL'],
    [{ DATABASE_URL: 'not a url' }, ['purge'], 'DATABASE_URL must be a postgres:// URL'],
    [{ DATABASE_URL }, ['keys', 'rotate'], 'keys rotate needs KEY_ENCRYPTION_SECRET'],
    [{ DATABASE_URL, JWT_SECRET: 'short' }, ['keys', 'list'], 'JWT_SECRET must be at least 32 bytes'],
    [{ DATABASE_URL, KEY_ENCRYPTION_SECRET: 'short' }, ['keys', 'list'], 'KEY_ENCRYPTION_SECRET must be at least'],
    [{ DATABASE_URL, JWT_ALGORITHM: 'RS256' }, ['keys', 'list'], 'JWT_ALGORITHM must be one of'],
    [{ DATABASE_URL, REFRESH_TOKEN_TTL: '14d' }, ['purge'], 'REFRESH_TOKEN_TTL must be a whole number of seconds'],
    [{ DATABASE_URL, SESSION_RETENTION: '0' }, ['purge'], 'SESSION_RETENTION must be a whole number of seconds'],
    [{ DATABASE_URL }, ['keys', 'retire'], 'keys retire needs ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL'],
    [{ DATABASE_URL, ACCESS_TOKEN_TTL: '900' }, ['keys', 'retire'], 'keys retire needs ACCESS_TOKEN_TTL and'],
  ])('refuses %j for %j: %s', (env, argv, message) => {
    const command = parseCliCommand(argv);
    expect(() => readOperatorEnvironment(env, command)).toThrow(OperatorEnvironmentError);
    expect(() => readOperatorEnvironment(env, command)).toThrow(message);
  });
});
