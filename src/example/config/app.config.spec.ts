import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadAppConfig, publishDevSecret } from './app.config.js';

const dataDir = () => join(mkdtempSync(join(tmpdir(), 'auth-config-')), '.data');

describe('loadAppConfig', () => {
  it('uses the documented defaults, with the embedded database', () => {
    const config = loadAppConfig({ JWT_SECRET: 's'.repeat(32) }, dataDir());
    expect(config).toMatchObject({
      production: false,
      port: 3000,
      databaseUrl: null,
      accessTokenTtl: 900,
      refreshTokenTtl: 1_209_600,
      sessionMaxAge: 2_592_000,
      refreshReuseGrace: 10,
      purgeCron: '*/10 * * * *',
      jwtAlgorithm: 'HS256',
    });
  });

  it('reads every variable', () => {
    const config = loadAppConfig(
      {
        DATABASE_URL: 'postgres://u:p@pgbouncer:6432/app',
        DATABASE_LISTEN_URL: 'postgres://u:p@db:5432/app',
        PORT: '8080',
        JWT_SECRET: 's'.repeat(40),
        ACCESS_TOKEN_TTL: '60',
        REFRESH_TOKEN_TTL: '3600',
        SESSION_MAX_AGE: '86400',
        REFRESH_REUSE_GRACE: '0',
        PURGE_CRON: '0 * * * *',
        JWT_ALGORITHM: 'EdDSA',
        KEY_ENCRYPTION_SECRET: 'k'.repeat(32),
      },
      dataDir(),
    );
    expect(config).toMatchObject({
      databaseUrl: 'postgres://u:p@pgbouncer:6432/app',
      databaseListenUrl: 'postgres://u:p@db:5432/app',
      port: 8080,
      accessTokenTtl: 60,
      refreshTokenTtl: 3600,
      sessionMaxAge: 86400,
      refreshReuseGrace: 0,
      purgeCron: '0 * * * *',
      jwtAlgorithm: 'EdDSA',
      keyEncryptionSecret: 'k'.repeat(32),
    });
  });

  it('generates a development secret once, keeps it owner-only, and reuses it', () => {
    const dir = dataDir();
    const first = loadAppConfig({}, dir);
    expect(Buffer.byteLength(first.jwtSecret ?? '')).toBeGreaterThanOrEqual(32);
    expect(statSync(join(dir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim()).toBe(first.jwtSecret);
    expect(loadAppConfig({}, dir).jwtSecret).toBe(first.jwtSecret);
    // The key-encryption secret likewise, in a file of its own.
    expect(Buffer.byteLength(first.keyEncryptionSecret)).toBeGreaterThanOrEqual(32);
    expect(first.keyEncryptionSecret).not.toBe(first.jwtSecret);
    expect(statSync(join(dir, 'key-encryption-secret')).mode & 0o777).toBe(0o600);
    expect(loadAppConfig({}, dir).keyEncryptionSecret).toBe(first.keyEncryptionSecret);
  });

  it('a development secret another process published first is read, not overwritten, and nothing is left behind', () => {
    const dir = dataDir();
    mkdirSync(dir);
    const file = join(dir, 'key-encryption-secret');
    // The winner's file is complete (it is only ever published whole, by a link), so the loser,
    // whose link fails with EEXIST, uses it.
    writeFileSync(file, `${'w'.repeat(64)}\n`, { mode: 0o600 });
    expect(publishDevSecret(file, 'l'.repeat(64))).toBe('w'.repeat(64));
    expect(readFileSync(file, 'utf8')).toBe(`${'w'.repeat(64)}\n`);
    expect(readdirSync(dir)).toEqual(['key-encryption-secret']);
    expect(loadAppConfig({ JWT_SECRET: 's'.repeat(32) }, dir).keyEncryptionSecret).toBe('w'.repeat(64));
    // First to publish: its own secret, owner-only, and no temp file.
    const own = join(dir, 'jwt-secret');
    expect(publishDevSecret(own, 'o'.repeat(64))).toBe('o'.repeat(64));
    expect(readFileSync(own, 'utf8')).toBe(`${'o'.repeat(64)}\n`);
    expect(statSync(own).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['jwt-secret', 'key-encryption-secret']);
  });

  it('refuses an empty development secret file instead of running on an empty secret', () => {
    const dir = dataDir();
    mkdirSync(dir);
    writeFileSync(join(dir, 'jwt-secret'), '', { mode: 0o600 });
    expect(() => loadAppConfig({}, dir)).toThrow(`${join(dir, 'jwt-secret')} is empty: delete it`);
    writeFileSync(join(dir, 'key-encryption-secret'), '\n', { mode: 0o600 });
    expect(() => publishDevSecret(join(dir, 'key-encryption-secret'), 'l'.repeat(64))).toThrow(ConfigError);
  });

  it('requires the key-encryption secret in production, and the JWT secret only with HS256', () => {
    const kek = { KEY_ENCRYPTION_SECRET: 'k'.repeat(32) };
    expect(() => loadAppConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) }, dataDir())).toThrow(
      'KEY_ENCRYPTION_SECRET is required when NODE_ENV=production',
    );
    const eddsa = loadAppConfig(
      {
        NODE_ENV: 'production',
        JWT_ALGORITHM: 'EdDSA',
        SMTP_URL: 'smtp://mail.example.com:587',
        PUBLIC_URL: 'https://app.example.com',
        ...kek,
      },
      dataDir(),
    );
    expect(eddsa).toMatchObject({ jwtAlgorithm: 'EdDSA', jwtSecret: null });
    expect(() => loadAppConfig({ JWT_ALGORITHM: 'RS256' }, dataDir())).toThrow(
      'JWT_ALGORITHM must be one of HS256, EdDSA, ES256 (got "RS256")',
    );
    expect(() => loadAppConfig({ KEY_ENCRYPTION_SECRET: 'short' }, dataDir())).toThrow(
      'KEY_ENCRYPTION_SECRET must be at least 32 bytes',
    );
  });

  it('refuses production without a secret, and any secret under 32 bytes', () => {
    expect(() => loadAppConfig({ NODE_ENV: 'production', KEY_ENCRYPTION_SECRET: 'k'.repeat(32) }, dataDir())).toThrow(
      'JWT_SECRET is required when NODE_ENV=production',
    );
    expect(() => loadAppConfig({ JWT_SECRET: 'x'.repeat(31) }, dataDir())).toThrow(
      'JWT_SECRET must be at least 32 bytes',
    );
  });

  it('SMTP_URL: TLS-weakening options only to localhost or a relay named in SMTP_ALLOW_PLAINTEXT_TO', () => {
    const production = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), KEY_ENCRYPTION_SECRET: 'k'.repeat(32) };
    const refusal = (env: Record<string, string>): string => {
      try {
        loadAppConfig({ ...production, PUBLIC_URL: 'https://app.example.com', ...env }, dataDir());
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems.join('\n');
      }
      throw new Error('accepted');
    };
    expect(refusal({ SMTP_URL: 'smtp://alice:hunter2@relay.example:25/?requireTLS=false' })).toBe(
      'SMTP_URL option requireTLS=false weakens TLS to relay.example: allowed only for localhost or a relay named in SMTP_ALLOW_PLAINTEXT_TO',
    );
    expect(refusal({ SMTP_URL: 'smtp://alice:hunter2@relay.example\\@localhost:25/' })).toBe(
      'SMTP_URL must not contain a backslash, whitespace or control characters',
    );
    expect(
      refusal({ SMTP_URL: 'smtp://relay.example/?ignoreTLS=true', SMTP_ALLOW_PLAINTEXT_TO: 'other.example' }),
    ).toMatch(/^SMTP_URL option ignoreTLS=true weakens TLS to relay\.example/);
    expect(refusal({ SMTP_URL: 'smtp://relay.example/', SMTP_ALLOW_PLAINTEXT_TO: 'relay.example:25' })).toBe(
      'SMTP_ALLOW_PLAINTEXT_TO: SMTP relay name "relay.example:25" is not a host name',
    );
    const allowed = loadAppConfig(
      {
        ...production,
        PUBLIC_URL: 'https://app.example.com',
        SMTP_URL: 'smtp://relay.internal:25/?ignoreTLS=true',
        SMTP_ALLOW_PLAINTEXT_TO: ' Relay.Internal , 10.0.0.25 ',
      },
      dataDir(),
    );
    expect(allowed.smtpAllowPlaintextTo).toEqual(['Relay.Internal', '10.0.0.25']);
    expect(loadAppConfig({ JWT_SECRET: 's'.repeat(32) }, dataDir()).smtpAllowPlaintextTo).toEqual([]);
  });

  it('RECENT_AUTH_MAX_AGE: how recent a sign-in must be to change the second factor (600 s unless set)', () => {
    expect(loadAppConfig({}, dataDir()).recentAuthMaxAge).toBe(600);
    expect(loadAppConfig({ RECENT_AUTH_MAX_AGE: '120' }, dataDir()).recentAuthMaxAge).toBe(120);
    expect(() => loadAppConfig({ RECENT_AUTH_MAX_AGE: '0' }, dataDir())).toThrow('RECENT_AUTH_MAX_AGE');
    expect(() => loadAppConfig({ RECENT_AUTH_MAX_AGE: 'soon' }, dataDir())).toThrow('RECENT_AUTH_MAX_AGE');
  });

  it('AUTH_EVENT_RETENTION_DAYS, NEW_DEVICE_ALERTS and AUTH_EVENT_STORE: 90 days, on and on unless set', () => {
    const defaults = loadAppConfig({}, dataDir());
    expect([defaults.eventRetentionDays, defaults.newDeviceAlerts, defaults.eventStore]).toEqual([90, true, true]);
    const set = loadAppConfig(
      { AUTH_EVENT_RETENTION_DAYS: '30', NEW_DEVICE_ALERTS: 'false', AUTH_EVENT_STORE: '0' },
      dataDir(),
    );
    expect([set.eventRetentionDays, set.newDeviceAlerts, set.eventStore]).toEqual([30, false, false]);
    expect(() => loadAppConfig({ AUTH_EVENT_RETENTION_DAYS: '0' }, dataDir())).toThrow('AUTH_EVENT_RETENTION_DAYS');
    expect(() => loadAppConfig({ NEW_DEVICE_ALERTS: 'maybe' }, dataDir())).toThrow('NEW_DEVICE_ALERTS');
  });

  it('mail: files under the data directory without SMTP_URL, refused in production; links start with PUBLIC_URL', () => {
    const dir = dataDir();
    const config = loadAppConfig({ PORT: '4000' }, dir);
    expect(config).toMatchObject({
      smtpUrl: null,
      mailDir: join(dir, 'mail'),
      publicUrl: 'http://localhost:4000',
      passwordResetTtl: 1800,
      emailVerificationTtl: 86_400,
      requireVerifiedEmail: false,
    });
    const given = loadAppConfig(
      {
        SMTP_URL: 'smtps://user:pass@mail.example.com:465',
        MAIL_FROM: 'Example <no-reply@example.com>',
        PUBLIC_URL: 'https://app.example.com/',
        PASSWORD_RESET_TTL: '600',
        EMAIL_VERIFICATION_TTL: '3600',
        REQUIRE_VERIFIED_EMAIL: 'true',
      },
      dataDir(),
    );
    expect(given).toMatchObject({
      smtpUrl: 'smtps://user:pass@mail.example.com:465',
      mailFrom: 'Example <no-reply@example.com>',
      publicUrl: 'https://app.example.com',
      passwordResetTtl: 600,
      emailVerificationTtl: 3600,
      requireVerifiedEmail: true,
    });
    const production = { NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32), KEY_ENCRYPTION_SECRET: 'k'.repeat(32) };
    expect(() => loadAppConfig(production, dataDir())).toThrow('SMTP_URL is required when NODE_ENV=production');
    expect(() =>
      loadAppConfig(
        { ...production, SMTP_URL: 'smtp://mail.example.com', PUBLIC_URL: 'http://app.example.com' },
        dataDir(),
      ),
    ).toThrow('PUBLIC_URL must be an https URL when NODE_ENV=production');
    expect(() => loadAppConfig({ SMTP_URL: 'http://mail' }, dataDir())).toThrow(
      'SMTP_URL must start with smtp:// or smtps://',
    );
    expect(() => loadAppConfig({ REQUIRE_VERIFIED_EMAIL: 'yes' }, dataDir())).toThrow(
      'REQUIRE_VERIFIED_EMAIL must be true or false',
    );
    expect(() => loadAppConfig({ PUBLIC_URL: 'app.example.com' }, dataDir())).toThrow(
      'PUBLIC_URL must be an http(s) URL',
    );
  });

  it('binds passkeys to PUBLIC_URL where browsers allow them, and turns them off elsewhere', () => {
    const origin = (url: string) => loadAppConfig({ PUBLIC_URL: url }, dataDir()).passkeyOrigin;
    expect(loadAppConfig({ PORT: '4000' }, dataDir()).passkeyOrigin).toBe('http://localhost:4000');
    expect(origin('https://app.example.com/base/')).toBe('https://app.example.com');
    expect(origin('https://app.example.com:8443')).toBe('https://app.example.com:8443');
    // Plain http elsewhere than localhost, and IP addresses: no passkeys (the app starts all the same).
    expect(origin('http://app.example.com')).toBeNull();
    expect(origin('http://127.0.0.1:3000')).toBeNull();
    expect(origin('https://192.0.2.10')).toBeNull();
    expect(origin('https://[2001:db8::1]')).toBeNull();
  });

  it('reads OIDC_PROVIDERS as a JSON list, and never repeats a value it refuses (it holds secrets)', () => {
    const google = {
      id: 'google',
      name: 'Google',
      issuer: 'https://accounts.google.com',
      clientId: 'id',
      clientSecret: 's3cret',
    };
    expect(loadAppConfig({ OIDC_PROVIDERS: JSON.stringify([google]) }, dataDir()).oidcProviders).toEqual([google]);
    expect(loadAppConfig({}, dataDir()).oidcProviders).toEqual([]);
    for (const bad of ['{"clientSecret":"s3cret"}', 'not json s3cret']) {
      let message = '';
      try {
        loadAppConfig({ OIDC_PROVIDERS: bad }, dataDir());
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('OIDC_PROVIDERS must be a JSON list');
      expect(message).not.toContain('s3cret');
    }
  });

  it('takes DATABASE_LISTEN_URL only as a postgres URL beside DATABASE_URL', () => {
    expect(() => loadAppConfig({ DATABASE_LISTEN_URL: 'postgres://db/app' }, dataDir())).toThrow(
      'DATABASE_LISTEN_URL needs DATABASE_URL',
    );
    expect(() =>
      loadAppConfig({ DATABASE_URL: 'postgres://db/app', DATABASE_LISTEN_URL: 'http://db' }, dataDir()),
    ).toThrow('DATABASE_LISTEN_URL must be a postgres:// URL');
    expect(loadAppConfig({}, dataDir()).databaseListenUrl).toBeNull();
  });

  it('lists every problem in one error', () => {
    let error: unknown;
    try {
      loadAppConfig(
        {
          PORT: 'http',
          ACCESS_TOKEN_TTL: '-5',
          DATABASE_URL: 'mysql://x',
          PURGE_CRON: 'sometimes',
          JWT_SECRET: 'short',
        },
        dataDir(),
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toHaveLength(5);
  });
});
