import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { UnauthorizedException } from '@nestjs/common';
import { issuerKeySettings, resolveAuthOptions } from '../auth-options.js';
import type { AuthModuleOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import { SigningKeys } from '../keys/signing-keys.service.js';
import type { SigningKeyRepository } from '../keys/signing-key.repository.js';
import type { NotificationListener } from '../notifications/notification-listener.service.js';
import { TokenService } from './token.service.js';

class ManualClock implements Clock {
  constructor(public current = Date.parse('2026-11-23T10:00:00.250Z')) {}
  now(): Date {
    return new Date(this.current);
  }
}

const secret = 'unit-test-secret-unit-test-secret-123';

/** A TokenService on the `secret` option's key alone (no signing_keys rows: the repository is never read). */
function tokenService(options: AuthModuleOptions, clock: Clock): TokenService {
  const resolved = resolveAuthOptions(options);
  const keys = new SigningKeys({} as SigningKeyRepository, issuerKeySettings(options, resolved), clock);
  return new TokenService(keys, { isLive: true } as NotificationListener, resolved, clock);
}

function setup(options = {}) {
  const clock = new ManualClock();
  const service = tokenService({ secret, ...options }, clock);
  return {
    clock,
    service,
    subject: {
      userId: randomUUID(),
      sessionId: randomUUID(),
      authenticatedAt: clock.now(),
      authTime: clock.now(),
      amr: ['pwd'],
    },
  };
}
const farFuture = new Date('2030-01-01T00:00:00Z');

function reason(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(UnauthorizedException);
    return (error as UnauthorizedException).message;
  }
}

describe('TokenService', () => {
  it('issues a token that verifies, with seconds and milliseconds of issue time', () => {
    const { service, subject, clock } = setup();
    const issued = service.issue('access', subject, farFuture);
    const claims = service.verify(issued.token, 'access');
    expect(claims).toMatchObject({ sub: subject.userId, sid: subject.sessionId, jti: issued.jti, typ: 'access' });
    expect(claims.iat_ms).toBe(clock.current);
    expect(claims.iat).toBe(Math.floor(clock.current / 1000));
    expect(claims.exp - claims.iat).toBe(900);
  });

  it('never lets a token outlive the session end it is given', () => {
    const { service, subject, clock } = setup();
    const sessionEnd = new Date(clock.current + 60_000);
    const issued = service.issue('refresh', subject, sessionEnd);
    expect(issued.expiresAt.getTime()).toBeLessThanOrEqual(sessionEnd.getTime());
  });

  it('refuses the other token type', () => {
    const { service, subject } = setup();
    expect(reason(() => service.verify(service.issue('refresh', subject, farFuture).token, 'access'))).toBe(
      'Invalid token',
    );
    expect(reason(() => service.verify(service.issue('access', subject, farFuture).token, 'refresh'))).toBe(
      'Invalid token',
    );
  });

  it('says expired exactly at exp, by the injected clock', () => {
    const { service, subject, clock } = setup({ accessTokenTtl: 60 });
    const { token, expiresAt } = service.issue('access', subject, farFuture);
    clock.current = expiresAt.getTime() - 1;
    expect(reason(() => service.verify(token, 'access'))).toBeUndefined();
    clock.current = expiresAt.getTime();
    expect(reason(() => service.verify(token, 'access'))).toBe('Token has expired');
  });

  it('refuses a token issued in the future unless within the configured tolerance', () => {
    const strict = setup({ clockTolerance: 0 });
    const early = strict.service.issue('access', strict.subject, farFuture);
    strict.clock.current -= 2_000;
    expect(reason(() => strict.service.verify(early.token, 'access'))).toBe('Invalid token');

    // The default tolerates a few seconds: an instance a little behind the signer accepts fresh tokens.
    const tolerant = setup();
    const token = tolerant.service.issue('access', tolerant.subject, farFuture).token;
    tolerant.clock.current -= 2_000;
    expect(reason(() => tolerant.service.verify(token, 'access'))).toBeUndefined();
  });

  it('refuses a token longer-lived than now configured (lifetime shortened after issue)', () => {
    const long = setup({ accessTokenTtl: 900 });
    const token = long.service.issue('access', long.subject, farFuture).token;
    const short = tokenService({ secret, accessTokenTtl: 300 }, long.clock);
    expect(reason(() => short.verify(token, 'access'))).toBe('Invalid token');
  });

  it('writes and requires issuer and audience when configured', () => {
    const withClaims = setup({ issuer: 'https://auth.example.com', audience: 'api' });
    const token = withClaims.service.issue('access', withClaims.subject, farFuture).token;
    expect(withClaims.service.verify(token, 'access')).toMatchObject({ iss: 'https://auth.example.com', aud: 'api' });
    const otherAudience = tokenService(
      { secret, issuer: 'https://auth.example.com', audience: 'admin' },
      withClaims.clock,
    );
    expect(reason(() => otherAudience.verify(token, 'access'))).toBe('Invalid token');
  });

  it('writes amr and auth_time, and refuses a payload whose amr or auth_time is malformed', () => {
    const { service, subject } = setup();
    const payload = service.verify(service.issue('access', subject, farFuture).token, 'access');
    expect(payload).toMatchObject({ amr: ['pwd'], auth_time: Math.floor(subject.authTime.getTime() / 1000) });
    const variants: Array<Record<string, unknown>> = [
      { amr: [] },
      { amr: ['pwd', 'pwd'] },
      { amr: ['password'] },
      { amr: 'pwd' },
      { auth_time: payload.iat + 1 },
      { auth_time: -1 },
      { auth_time: 1.5 },
      { auth_time: String(payload.auth_time) },
    ];
    for (const change of variants) {
      expect([change, reason(() => service.assertClaims({ ...payload, ...change }, 'access'))]).toEqual([
        change,
        'Invalid token',
      ]);
    }
    // Tokens from before both existed are still read (a password, signed in at auth_time_ms).
    const older: Record<string, unknown> = { ...payload };
    delete older.amr;
    delete older.auth_time;
    expect(reason(() => service.assertClaims(older, 'access'))).toBeUndefined();
  });

  it('for a remembered payload, skips only the structural checks: type and time still decide', () => {
    const { service, subject, clock } = setup();
    const { token, expiresAt } = service.issue('access', subject, farFuture);
    const payload = service.verify(token, 'access');
    service.rememberVerified(token, payload);
    const remembered = service.recallVerified(token);
    expect(Object.isFrozen(remembered)).toBe(true);
    expect(service.assertClaims(remembered, 'access')).toMatchObject({ sub: subject.userId });
    expect(service.assertClaims(remembered, 'access')).toMatchObject({ sub: subject.userId });
    expect(reason(() => service.assertClaims(remembered, 'refresh'))).toBe('Invalid token');
    clock.current = expiresAt.getTime();
    expect(reason(() => service.assertClaims(remembered, 'access'))).toBe('Token has expired');
  });

  it('recalls a verified token only by its identical string, even when another shares its signature end', () => {
    const { service, subject } = setup();
    const { token } = service.issue('access', subject, farFuture);
    service.rememberVerified(token, service.verify(token, 'access'));
    expect(service.recallVerified(token)).toMatchObject({ sub: subject.userId });
    // Same last characters (the cache's slot), another header and payload: not the verified token.
    const [, , signature] = token.split('.');
    const forged = `eyJhbGciOiJub25lIn0.e30.${signature}`;
    expect(service.recallVerified(forged)).toBeUndefined();
    expect(service.recallVerified(token.slice(1))).toBeUndefined();
    expect(service.recallVerified(`${token} `)).toBeUndefined();
  });

  it('hashes tokens with SHA-256', () => {
    expect(TokenService.hash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
