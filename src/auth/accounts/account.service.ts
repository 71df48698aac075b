import type { EventActor } from '../security-events/security-event.interface.js';
import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors, PASSWORD_HASHER } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import type { ClientInfo } from '../common/client-info.js';
import type { PasswordHasher } from '../common/password-hasher.interface.js';
import { AccountRecoveryService } from '../recovery/account-recovery.service.js';
import { RevocationService } from '../revocation/revocation.service.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { RegistrationThrottleService } from '../throttling/registration-throttle.service.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { PasswordCheckService } from './password-check.service.js';
import { UserRepository } from './user.repository.js';

export interface PublicUser {
  id: string;
  email: string;
}

/** GET /auth/me. */
export interface AccountView extends PublicUser {
  emailVerified: boolean;
}

/** The account itself: registration, the signed-in user, password change, deletion. */
@Injectable()
export class AccountService {
  private readonly logger = new Logger(AccountService.name);

  constructor(
    private readonly users: UserRepository,
    private readonly passwords: PasswordCheckService,
    private readonly revocation: RevocationService,
    private readonly registrations: RegistrationThrottleService,
    private readonly events: SecurityEventsService,
    private readonly recovery: AccountRecoveryService,
    @Inject(PASSWORD_HASHER) private readonly hasher: PasswordHasher,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /** Throttled per client (429 before any hashing); 409 when the address is taken in any spelling (canonicalEmail). */
  async register(email: string, password: string, client: ClientInfo = { userAgent: null, ip: null }) {
    await this.registrations.check(client.ip);
    const events = this.events.change();
    const user = await this.users.create(email.trim(), await this.hasher.hash(password), (tx, userId) =>
      events.write(tx, 'user_registered', { userId, ip: client.ip }),
    );
    if (!user) throw new ConflictException('Email is already registered');
    events.announce();
    // The account exists whatever happens to the mail: a verification link can be asked for again.
    await this.recovery.sendVerification(user.email, client).catch((error: Error) => {
      this.logger.warn(`Verification mail not queued for a new account: ${error.message}`);
    });
    return { id: user.id, email: user.email } satisfies PublicUser;
  }

  async me(user: AuthenticatedUser): Promise<AccountView> {
    const found = await this.users.findById(user.userId);
    if (!found) throw new NotFoundException('User not found');
    return { id: found.id, email: found.email, emailVerified: found.emailVerifiedAt !== null };
  }

  /**
   * Changes the password after checking the current one (a wrong one counts as a failed login).
   * Every other session of the user is revoked at once; the current one keeps working. A login
   * with the old password that is still in flight cannot leave a session behind (see
   * SessionRepository.openWithVerifiedPassword).
   */
  async changePassword(
    user: AuthenticatedUser,
    currentPassword: string,
    newPassword: string,
    client: ClientInfo,
  ): Promise<void> {
    const found = await this.passwords.current(user.userId, currentPassword, client);
    await this.revocation.changePassword(found.id, await this.hasher.hash(newPassword), user.sessionId, {
      ip: client.ip,
    });
  }

  /**
   * DELETE /auth/account: the current password is checked (and throttled) like a login (an account
   * without one: a recent authentication instead), then the account goes (see deleteUser).
   */
  async deleteAccount(user: AuthenticatedUser, password: string | undefined, client: ClientInfo): Promise<void> {
    if (password !== undefined) {
      await this.passwords.current(user.userId, password, client);
    } else {
      // No password given: only for an account without one, and then after a recent authentication.
      const found = await this.users.findById(user.userId);
      if (!found) throw new UnauthorizedException(AuthErrors.revoked);
      if (found.passwordHash !== null) throw new BadRequestException('password is required');
      if (this.clock.now().getTime() - user.authTime * 1000 > this.options.recentAuthMaxAge * 1000) {
        throw new ForbiddenException(AuthErrors.recentAuthRequired);
      }
    }
    if (!(await this.deleteUser(user.userId, client))) throw new UnauthorizedException(AuthErrors.revoked);
  }

  /**
   * For host apps (and operators): deletes the user and every session of theirs; each of their
   * tokens is refused at once on every instance, and on instances started later (a tombstone
   * stays until the last access token has expired). The email can register again. False when
   * there is no such user.
   */
  async deleteUser(userId: string, client: Partial<ClientInfo> = {}, actor?: EventActor): Promise<boolean> {
    return this.revocation.deleteUser(userId, { ip: client.ip ?? null, ...(actor ? { actor } : {}) });
  }

  /** For operators (CLI) and host apps: the user of an address, in any spelling (canonicalEmail). */
  async findUserByEmail(email: string): Promise<PublicUser | null> {
    const user = await this.users.findByEmail(email.trim());
    return user ? { id: user.id, email: user.email } : null;
  }
}
