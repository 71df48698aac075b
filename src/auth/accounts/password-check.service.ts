import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit, UnauthorizedException } from '@nestjs/common';
import { AuthErrors, PASSWORD_HASHER } from '../auth.constants.js';
import type { ClientInfo } from '../common/client-info.js';
import type { PasswordHasher } from '../common/password-hasher.interface.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { type LoginAttempt, LoginThrottleService } from '../throttling/login-throttle.service.js';
import { type CheckedAccount, PasswordCheckRepository } from '../throttling/password-check.repository.js';
import { canonicalEmail } from './email-address.js';
import { PasswordCheckBudgetService } from '../throttling/password-check-budget.service.js';
import type { UserEntity } from './user.entity.js';
import { UserRepository } from './user.repository.js';

/**
 * Every check of a password the user types: at login, and before a password change or an account
 * deletion. Each is counted against the client's budget of checks (PasswordCheckBudgetService),
 * right or wrong, then throttled by failures; both answer 429 before any hashing. A failure is a
 * `login_failed` event, and an unknown email costs the same time as a wrong password.
 */
@Injectable()
export class PasswordCheckService implements OnModuleInit {
  /** Verified against when the email is unknown, so that both failures cost the same time. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly users: UserRepository,
    private readonly throttle: LoginThrottleService,
    private readonly budget: PasswordCheckBudgetService,
    private readonly admissions: PasswordCheckRepository,
    private readonly events: SecurityEventsService,
    @Inject(PASSWORD_HASHER) private readonly hasher: PasswordHasher,
  ) {}

  /**
   * The account of this email when the password is theirs, with the attempt (whose failures a
   * success clears: the caller does, with the session it opens); 401 `Invalid email or password`
   * otherwise. One transaction before the hash spends the client's budget, records the attempt
   * and reads the account (PasswordCheckRepository.admit).
   */
  async login(
    email: string,
    password: string,
    client: ClientInfo,
  ): Promise<{ user: CheckedAccount; attempt: LoginAttempt }> {
    const { account: user, attempt } = await this.admit(email, client, null, canonicalEmail(email));
    // An unknown email, or an account without a password, costs the time of a wrong password.
    const valid = await this.hasher.verify(user?.passwordHash ?? (await this.getDummyHash()), password);
    if (!user?.passwordHash || !valid) {
      await this.events.emit('login_failed', { userId: user?.id ?? null, ip: client.ip, reason: 'bad_credentials' });
      throw new UnauthorizedException(AuthErrors.badCredentials);
    }
    return { user, attempt };
  }

  /** The signed-in user, when this is their password; 401 `Current password is incorrect` otherwise. */
  async current(userId: string, password: string, client: ClientInfo): Promise<UserEntity> {
    const found = await this.users.findById(userId);
    if (!found) throw new UnauthorizedException(AuthErrors.revoked);
    const { attempt } = await this.admit(found.email, client, found.id, null);
    // Without a password, none is right (at the cost of a wrong one).
    const valid = await this.hasher.verify(found.passwordHash ?? (await this.getDummyHash()), password);
    if (!found.passwordHash || !valid) {
      await this.events.emit('login_failed', { userId: found.id, ip: client.ip, reason: 'wrong_current_password' });
      throw new UnauthorizedException(AuthErrors.wrongCurrentPassword);
    }
    await attempt.succeeded();
    return found;
  }

  /**
   * The check's admission (PasswordCheckRepository.admit): the client's budget, then the failure
   * throttle, each 429 before any hashing; the account of `lookupEmail` when one is asked for.
   * `userId` labels the events of a known user.
   */
  private async admit(
    email: string,
    client: ClientInfo,
    userId: string | null,
    lookupEmail: string | null,
  ): Promise<{ account: CheckedAccount | null; attempt: LoginAttempt }> {
    const hits = this.budget.hitsFor(client.ip);
    const limits = this.throttle.limitsFor(email, client.ip);
    const admission = await this.admissions.admit(hits, limits, lookupEmail);
    this.budget.judge(admission.budget, client.ip, userId);
    const account = admission.account;
    const attempt = this.throttle.judge(admission.attempt, limits, client.ip, userId ?? account?.id ?? null);
    return { account, attempt };
  }

  /** Computed at start, so that not even the first unknown email costs a hash more. */
  onModuleInit(): void {
    void this.getDummyHash();
  }

  private getDummyHash(): Promise<string> {
    this.dummyHash ??= this.hasher.hash(randomUUID());
    return this.dummyHash;
  }
}
