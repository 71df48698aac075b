import { createHash } from 'node:crypto';
import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { AUTH_CLOCK } from './auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from './auth-options.js';
import type { ResolvedAuthOptions } from './interfaces/auth-module-options.interface.js';
import type { Clock } from './interfaces/clock.interface.js';
import { LoginFailureRepository } from './repositories/login-failure.repository.js';

/** 429 with the seconds to wait, which LoginThrottledFilter also puts in `Retry-After`. */
export class LoginThrottledException extends HttpException {
  constructor(readonly retryAfterSeconds: number) {
    super(
      {
        statusCode: HttpStatus.TOO_MANY_REQUESTS,
        message: `Too many failed login attempts; retry in ${retryAfterSeconds} seconds`,
        error: 'Too Many Requests',
      },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}

export interface LoginAttempt {
  /** Call when the password was right: clears the account's failures. */
  succeeded(): Promise<void>;
}

/**
 * Throttles password guessing. Failures count per (account, client IP) and per client IP over all
 * accounts, in a sliding window. Keying the account count by IP as well means that an attacker
 * cannot lock the real user out from elsewhere, and throttling one account never affects another.
 * Attempts refused with 429 are not counted, so a lock always ends one window after it began.
 */
@Injectable()
export class LoginThrottleService {
  constructor(
    private readonly failures: LoginFailureRepository,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /** Throws LoginThrottledException (before any password hashing) when over a limit. */
  async begin(email: string, ip: string | null): Promise<LoginAttempt> {
    const now = this.clock.now();
    const accountKey = LoginThrottleService.accountKey(email);
    const decision = await this.failures.beginAttempt({
      accountKey,
      ip: ip ?? 'unknown',
      now,
      windowStart: new Date(now.getTime() - this.options.loginLockoutWindow * 1000),
      maxPerAccount: this.options.loginMaxFailedAttempts,
      maxPerIp: this.options.loginMaxFailedAttemptsPerIp,
    });
    if (!decision.allowed) {
      throw new LoginThrottledException(Math.max(1, Math.ceil((decision.unlocksAt.getTime() - now.getTime()) / 1000)));
    }
    return { succeeded: () => this.failures.resetAccount(accountKey) };
  }

  static accountKey(email: string): string {
    return createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex');
  }
}
