import { describe, expect, it } from '@jest/globals';
import { issuerKeySettings, resolveAuthOptions } from './auth-options.js';

describe('resolveAuthOptions', () => {
  it('applies the documented defaults', () => {
    expect(resolveAuthOptions({ secret: 'x'.repeat(32) })).toEqual({
      algorithm: 'HS256',
      keyActivationDelay: 600,
      issuer: undefined,
      audience: undefined,
      accessTokenTtl: 900,
      refreshTokenTtl: 1_209_600,
      sessionMaxAge: 2_592_000,
      refreshReuseGrace: 10,
      purgeCron: '*/10 * * * *',
      purgeBatchSize: 10_000,
      purgeBatchPauseMs: 25,
      sessionRetention: 604_800,
      eventStore: true,
      eventRetention: 7_776_000,
      newDeviceAlerts: true,
      clockTolerance: 5,
      loginMaxFailedAttempts: 5,
      loginMaxFailedAttemptsPerIp: 50,
      loginMaxFailedAttemptsPerAccount: 100,
      loginLockoutWindow: 900,
      registerMaxPerIp: 20,
      registerWindow: 3600,
      registerMaxPerNetwork: 100,
      passwordChecksMaxPerIp: 100,
      passwordChecksWindow: 60,
      passwordChecksMaxPerNetwork: 1000,
      maxSessionsPerUser: 100,
      revocationListenerUrl: undefined,
      strictRevocation: false,
      revocationHeartbeatMs: 500,
      trustedOrigins: new Set(),
      passwordResetTtl: 1800,
      emailVerificationTtl: 86_400,
      requireVerifiedEmail: false,
      mailMaxPerIp: 20,
      mailMaxPerEmail: 5,
      mailWindow: 3600,
      mailMaxPerNetwork: 100,
      recentAuthMaxAge: 600,
      mfaMaxFailedAttempts: 10,
      totpIssuer: 'nest-jwt-revocation',
      webauthn: null,
      oidc: null,
    });
  });

  it('checks the OpenID Connect providers: ids, https issuers (http for localhost outside production), a public URL', () => {
    const base = { secret: 'x'.repeat(32) };
    const provider = {
      id: 'google',
      name: 'Google',
      issuer: 'https://accounts.google.com',
      clientId: 'id',
      clientSecret: 's',
    };
    expect(
      resolveAuthOptions({ ...base, oidc: { providers: [provider], publicUrl: 'https://app.example.com/' } }).oidc,
    ).toEqual({
      providers: [{ ...provider, scopes: ['openid', 'email', 'profile'], trustEmailVerified: false }],
      publicUrl: 'https://app.example.com',
      pagesPath: '/account',
    });
    const refused = (oidc: unknown) => () => resolveAuthOptions({ ...base, oidc } as never);
    expect(refused({ providers: [provider] })).toThrow('oidc.publicUrl (or mail.publicUrl)');
    const at = { publicUrl: 'https://app.example.com' };
    expect(refused({ ...at, providers: [{ ...provider, id: 'Google!' }] })).toThrow('must be 1 to 32 lower-case');
    expect(refused({ ...at, providers: [provider, provider] })).toThrow('is given twice');
    expect(refused({ ...at, providers: [{ ...provider, issuer: 'http://idp.example.com' }] })).toThrow(
      'the issuer must be an https URL',
    );
    expect(refused({ ...at, providers: [{ ...provider, clientSecret: '' }] })).toThrow('clientSecret is required');
    const local = { ...provider, issuer: 'http://127.0.0.1:4000' };
    expect(resolveAuthOptions({ ...base, oidc: { ...at, providers: [local] } }).oidc?.providers[0].issuer).toBe(
      'http://127.0.0.1:4000',
    );
    const environment = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(refused({ ...at, providers: [local] })).toThrow('the issuer must be an https URL');
    } finally {
      if (environment === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = environment;
    }
  });

  it('resolves the passkeys’ relying party: https origins (http for localhost), an rpId that covers each', () => {
    const base = { secret: 'x'.repeat(32) };
    expect(resolveAuthOptions({ ...base, webauthn: { origins: ['https://app.example.com'] } }).webauthn).toEqual({
      origins: ['https://app.example.com'],
      rpId: 'app.example.com',
      rpName: 'nest-jwt-revocation',
    });
    expect(
      resolveAuthOptions({
        ...base,
        webauthn: {
          origins: ['https://app.example.com', 'https://admin.example.com'],
          rpId: 'example.com',
          rpName: 'Example',
        },
      }).webauthn,
    ).toEqual({
      origins: ['https://app.example.com', 'https://admin.example.com'],
      rpId: 'example.com',
      rpName: 'Example',
    });
    expect(resolveAuthOptions({ ...base, webauthn: { origins: ['http://localhost:3000'] } }).webauthn?.rpId).toBe(
      'localhost',
    );
    expect(() => resolveAuthOptions({ ...base, webauthn: { origins: ['http://app.example.com'] } })).toThrow(
      'is not an https origin',
    );
    expect(() => resolveAuthOptions({ ...base, webauthn: { origins: ['https://app.example.com/path'] } })).toThrow(
      'is not an https origin',
    );
    expect(() => resolveAuthOptions({ ...base, webauthn: { origins: [] } })).toThrow('at least one origin');
    // An IP address is no rpId browsers accept; http is for localhost alone.
    expect(() => resolveAuthOptions({ ...base, webauthn: { origins: ['https://192.0.2.10'] } })).toThrow(
      'webauthn.rpId "192.0.2.10" is not a domain name',
    );
    expect(() => resolveAuthOptions({ ...base, webauthn: { origins: ['https://[2001:db8::1]'] } })).toThrow(
      'is not a domain name',
    );
    expect(() => resolveAuthOptions({ ...base, webauthn: { origins: ['http://127.0.0.1:3000'] } })).toThrow(
      'is not an https origin',
    );
    expect(() =>
      resolveAuthOptions({ ...base, webauthn: { origins: ['https://example.com'], rpId: 'https://example.com' } }),
    ).toThrow('is not a domain name');
    expect(() =>
      resolveAuthOptions({ ...base, webauthn: { origins: ['https://app.example.com'], rpId: 'other.example' } }),
    ).toThrow('does not cover the origin');
    expect(resolveAuthOptions(base).webauthn).toBeNull();
  });

  it('normalises trusted origins as browsers send them, and refuses anything that is not an origin', () => {
    const resolved = resolveAuthOptions({
      secret: 'x'.repeat(32),
      trustedOrigins: ['https://Admin.Example:443', 'http://localhost:5173'],
    });
    expect([...resolved.trustedOrigins]).toEqual(['https://admin.example', 'http://localhost:5173']);
    for (const origin of [
      'admin.example',
      'https://admin.example/path',
      'ftp://admin.example',
      'https://u:p@admin.example',
      '*',
    ]) {
      expect(() => resolveAuthOptions({ secret: 'x'.repeat(32), trustedOrigins: [origin] })).toThrow(/trustedOrigins/);
    }
  });

  it('names every bad option at once', () => {
    expect(() =>
      resolveAuthOptions({
        secret: 'x'.repeat(32),
        algorithm: 'none' as 'HS256',
        accessTokenTtl: 0,
        purgeBatchSize: 20_000,
        refreshReuseGrace: -1,
      }),
    ).toThrow(
      /algorithm must be one of HS256, HS384, HS512, EdDSA, ES256; accessTokenTtl must be a positive.*; refreshReuseGrace .*; purgeBatchSize must be between 1 and 10000/,
    );
  });

  it('refuses budgets and caps that are not whole numbers from 1 to 1,000,000, and a mail concurrency past 32', () => {
    const resolve = (options: object) => () =>
      resolveAuthOptions({ secret: 'x'.repeat(32), ...options } as Parameters<typeof resolveAuthOptions>[0]);
    expect(resolve({ passwordChecksMaxPerIp: 0, maxSessionsPerUser: 1.5, registerMaxPerNetwork: 2_000_000 })).toThrow(
      /registerMaxPerNetwork must be a whole number from 1 to 1000000; passwordChecksMaxPerIp must be a whole number from 1 to 1000000; maxSessionsPerUser must be/,
    );
    expect(resolve({ passwordChecksWindow: 0, mailMaxPerNetwork: -1 })).toThrow(
      /passwordChecksWindow must be a positive whole number of seconds; mailMaxPerNetwork must be/,
    );
    expect(
      resolve({
        keyEncryptionSecret: 'k'.repeat(32),
        mail: {
          transport: { send: async () => {} },
          from: 'a@example.com',
          publicUrl: 'https://a.example',
          concurrency: 33,
        },
      }),
    ).toThrow(/mail.concurrency must be a whole number from 1 to 32/);
  });
});

describe('key options', () => {
  it('refuses secrets under 32 bytes, and a start with no key at all', () => {
    expect(() => resolveAuthOptions({ secret: 'x'.repeat(31) })).toThrow('secret must be at least 32 bytes');
    expect(() => resolveAuthOptions({})).toThrow('secret (or keyEncryptionSecret');
    expect(() => resolveAuthOptions({ keyEncryptionSecret: 'k'.repeat(31) })).toThrow(
      'keyEncryptionSecret must be at least 32 bytes',
    );
  });

  it('requires the key-encryption secret with an asymmetric algorithm, and refuses unknown algorithms', () => {
    expect(() => resolveAuthOptions({ secret: 'x'.repeat(32), algorithm: 'EdDSA' })).toThrow(
      'keyEncryptionSecret is required with EdDSA',
    );
    expect(() => resolveAuthOptions({ algorithm: 'ES256', keyEncryptionSecret: 'k'.repeat(32) })).not.toThrow();
    expect(() => resolveAuthOptions({ secret: 'x'.repeat(32), algorithm: 'RS256' as never })).toThrow(
      'algorithm must be one of HS256, HS384, HS512, EdDSA, ES256',
    );
    expect(() => resolveAuthOptions({ secret: 'x'.repeat(32), algorithm: 'none' as never })).toThrow(
      'algorithm must be one of',
    );
  });

  it("gives the secret's key a stable id that says nothing about the secret, and HS256 beside an asymmetric algorithm", () => {
    const options = { secret: 'x'.repeat(32), keyEncryptionSecret: 'k'.repeat(32) };
    const hmac = issuerKeySettings(options, resolveAuthOptions(options));
    const again = issuerKeySettings(options, resolveAuthOptions(options));
    expect(hmac.secretKey?.kid).toBe(again.secretKey?.kid);
    expect(hmac.secretKey?.kid).toMatch(/^s-[A-Za-z0-9_-]{22}$/);
    expect(hmac.secretKey?.kid).not.toContain(Buffer.from('x'.repeat(32)).toString('base64url').slice(0, 8));
    const other = issuerKeySettings({ ...options, secret: 'y'.repeat(32) }, resolveAuthOptions(options));
    expect(other.secretKey?.kid).not.toBe(hmac.secretKey?.kid);

    const eddsa = { ...options, algorithm: 'EdDSA' as const };
    const settings = issuerKeySettings(eddsa, resolveAuthOptions(eddsa));
    expect(settings.secretKey?.algorithm).toBe('HS256');
    expect(settings.algorithm).toBe('EdDSA');
    // Refresh tokens live longest: an old key verifies that long after it stopped signing.
    expect(settings.verifyWindowSeconds).toBe(1_209_600 + 5);
  });
});
