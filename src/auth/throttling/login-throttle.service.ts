import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { canonicalEmail } from '../accounts/email-address.js';
import { throttleKey } from '../common/client-address.js';
import { secondsUntil, TooManyRequestsException } from '../common/exceptions.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import { LoginFailureRepository } from './login-failure.repository.js';
import { type AttemptDecision, type AttemptLimits, PasswordCheckRepository } from './password-check.repository.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';

/** The client key of the second-factor counter's rows: not an address, so no per-client limit counts them. */
const SECOND_FACTOR_CLIENT = 'second-factor';

/** 429 with the seconds to wait, which the module's filter also puts in `Retry-After`. */
export class LoginThrottledException extends TooManyRequestsException {
  constructor(retryAfterSeconds: number) {
    super(`Too many failed login attempts; retry in ${retryAfterSeconds} seconds`, retryAfterSeconds);
  }
}

export interface LoginAttempt {
  /** The account's failures from this client: what a success clears (also inside a login's session transaction). */
  failures: { accountKey: string; ip: string };
  /** Call when the password was right: clears the account's failures from this client. */
  succeeded(): Promise<void>;
  /**
   * Call when the password was right but the sign-in goes on to a second step: this attempt is no
   * failure, but clears none either (else knowing the password would buy fresh code guesses).
   */
  withdrawn(): Promise<void>;
}

/** Locks whose event this instance has reported, remembered at most (then forgotten at once). */
const MAX_REPORTED_LOCKS = 10_000;

/**
 * Throttles password guessing, in a sliding window of `loginLockoutWindow`. Failures count per
 * (account, client), per client over all accounts, and per account over all clients. Keying the
 * first by client means that an attacker cannot lock the real user out from elsewhere with a few
 * attempts; the third, much higher, bounds guessing one account from many addresses. A client is
 * its IPv4 address or its IPv6 /64. Attempts refused with 429 are not counted, so a lock always
 * ends one window after it began.
 */
@Injectable()
export class LoginThrottleService {
  /** Locks reported (the limit and what it counts) → when they end. */
  private readonly reported = new Map<string, number>();

  constructor(
    private readonly failures: LoginFailureRepository,
    private readonly admissions: PasswordCheckRepository,
    private readonly events: SecurityEventsService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /**
   * Throws LoginThrottledException (before any password hashing) when over a limit. `userId`
   * only labels the security event.
   */
  async begin(email: string, ip: string | null, userId: string | null = null): Promise<LoginAttempt> {
    return this.beginForAccount(LoginThrottleService.accountKey(email), ip, userId);
  }

  /** begin() for an account known by its key (accountKey), as the second step of a sign-in is. */
  async beginForAccount(accountKey: string, ip: string | null, userId: string | null = null): Promise<LoginAttempt> {
    const limits = this.limitsForAccount(accountKey, ip);
    const { attempt } = await this.admissions.admit([], limits, null);
    return this.judge(attempt, limits, ip, userId);
  }

  /**
   * A code for the user's second factor (second step of a sign-in, re-authentication): throws
   * LoginThrottledException when the account's wrong codes over every client within the window
   * reached `mfaMaxFailedAttempts`. Kept apart from the login counters (a client key of its own,
   * so that no per-client limit counts it twice) and never cleared by a success (a right code
   * withdraws its own attempt only): whoever knows the password gets that many code guesses per
   * window, from however many addresses.
   */
  async beginSecondFactor(userId: string, ip: string | null): Promise<LoginAttempt> {
    const limits: AttemptLimits = {
      ...this.limitsForAccount(createHash('sha256').update(`second-factor\n${userId}`, 'utf8').digest('hex'), null),
      ip: SECOND_FACTOR_CLIENT,
      maxPerAccount: this.options.mfaMaxFailedAttempts,
      maxPerIp: Number.MAX_SAFE_INTEGER,
      maxPerAccountOverall: this.options.mfaMaxFailedAttempts,
    };
    const { attempt } = await this.admissions.admit([], limits, null);
    return this.judge(attempt, limits, ip, userId);
  }

  /** The limits of an attempt on this account from this client, now. */
  limitsFor(email: string, ip: string | null): AttemptLimits {
    return this.limitsForAccount(LoginThrottleService.accountKey(email), ip);
  }

  private limitsForAccount(accountKey: string, ip: string | null): AttemptLimits {
    const now = this.clock.now();
    return {
      accountKey,
      ip: throttleKey(ip),
      now,
      windowStart: new Date(now.getTime() - this.options.loginLockoutWindow * 1000),
      maxPerAccount: this.options.loginMaxFailedAttempts,
      maxPerIp: this.options.loginMaxFailedAttemptsPerIp,
      maxPerAccountOverall: this.options.loginMaxFailedAttemptsPerAccount,
    };
  }

  /** The attempt, when the database admitted it; LoginThrottledException (and its event) when not. */
  judge(decision: AttemptDecision, limits: AttemptLimits, ip: string | null, userId: string | null): LoginAttempt {
    if (!decision.allowed) {
      // One event per lock (this limit, on what it counts) until it ends, not one per refused
      // request: a client hammering a locked account must not turn into a row per request in
      // the event store (nor a log line per request).
      const key =
        decision.limit === 'ip'
          ? `ip ${limits.ip}`
          : decision.limit === 'account'
            ? `account ${limits.accountKey}`
            : `account_ip ${limits.accountKey} ${limits.ip}`;
      const known = this.reported.get(key);
      if (known === undefined || known <= limits.now.getTime()) {
        if (this.reported.size >= MAX_REPORTED_LOCKS) this.reported.clear();
        this.reported.set(key, decision.unlocksAt.getTime());
        // Not awaited: the refusal is sync, and its answer does not wait for the write.
        void this.events.emit('login_throttled', { userId, ip, reason: decision.limit });
      }
      throw new LoginThrottledException(secondsUntil(decision.unlocksAt, limits.now));
    }
    const failures = { accountKey: limits.accountKey, ip: limits.ip };
    return {
      failures,
      succeeded: () => this.failures.resetAccount(failures.accountKey, failures.ip),
      withdrawn: () => this.failures.withdrawOne(failures.accountKey, failures.ip, limits.now),
    };
  }

  /** One key per address in all its spellings (canonicalEmail), like the account it names. */
  static accountKey(email: string): string {
    return createHash('sha256').update(canonicalEmail(email), 'utf8').digest('hex');
  }
}
