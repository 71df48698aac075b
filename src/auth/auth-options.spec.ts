import { describe, expect, it } from '@jest/globals';
import { createSigningKey, resolveAuthOptions } from './auth-options.js';

describe('resolveAuthOptions', () => {
  it('applies the documented defaults', () => {
    expect(resolveAuthOptions({ secret: 'x'.repeat(32) })).toEqual({
      algorithm: 'HS256',
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
      clockTolerance: 5,
      loginMaxFailedAttempts: 5,
      loginMaxFailedAttemptsPerIp: 50,
      loginMaxFailedAttemptsPerAccount: 100,
      loginLockoutWindow: 900,
      registerMaxPerIp: 20,
      registerWindow: 3600,
      revocationListenerUrl: undefined,
      strictRevocation: false,
      revocationHeartbeatMs: 500,
      trustedOrigins: new Set(),
    });
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
      /algorithm must be one of HS256, HS384, HS512; accessTokenTtl must be a positive.*; refreshReuseGrace .*; purgeBatchSize must be between 1 and 10000/,
    );
  });
});

describe('createSigningKey', () => {
  it('refuses secrets under 32 bytes', () => {
    expect(() => createSigningKey('x'.repeat(31))).toThrow('secret must be at least 32 bytes');
    expect(() => createSigningKey(undefined)).toThrow('secret must be at least 32 bytes');
  });

  it('builds a secret KeyObject', () => {
    const key = createSigningKey(Buffer.alloc(32, 1));
    expect(key.type).toBe('secret');
    expect(key.symmetricKeySize).toBe(32);
  });
});
