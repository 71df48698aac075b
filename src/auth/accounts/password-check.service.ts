import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit, UnauthorizedException } from '@nestjs/common';
import { AuthErrors, PASSWORD_HASHER } from '../auth.constants.js';
import type { ClientInfo } from '../common/client-info.js';
import type { PasswordHasher } from '../common/password-hasher.interface.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { LoginThrottleService } from '../throttling/login-throttle.service.js';
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
    private readonly events: SecurityEventsService,
    @Inject(PASSWORD_HASHER) private readonly hasher: PasswordHasher,
  ) {}

  /** The user of this email when the password is theirs; 401 `Invalid email or password` otherwise. */
  async login(email: string, password: string, client: ClientInfo): Promise<UserEntity> {
    await this.budget.spend(client.ip, null);
    const user = await this.users.findByEmail(email);
    const attempt = await this.throttle.begin(email, client.ip, user?.id ?? null);
    const valid = await this.hasher.verify(user?.passwordHash ?? (await this.getDummyHash()), password);
    if (!user || !valid) {
      this.events.emit('login_failed', { userId: user?.id ?? null, ip: client.ip, reason: 'bad_credentials' });
      throw new UnauthorizedException(AuthErrors.badCredentials);
    }
    await attempt.succeeded();
    return user;
  }

  /** The signed-in user, when this is their password; 401 `Current password is incorrect` otherwise. */
  async current(userId: string, password: string, client: ClientInfo): Promise<UserEntity> {
    const found = await this.users.findById(userId);
    if (!found) throw new UnauthorizedException(AuthErrors.revoked);
    await this.budget.spend(client.ip, found.id);
    const attempt = await this.throttle.begin(found.email, client.ip, found.id);
    if (!(await this.hasher.verify(found.passwordHash, password))) {
      this.events.emit('login_failed', { userId: found.id, ip: client.ip, reason: 'wrong_current_password' });
      throw new UnauthorizedException(AuthErrors.wrongCurrentPassword);
    }
    await attempt.succeeded();
    return found;
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
