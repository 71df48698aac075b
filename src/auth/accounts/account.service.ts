import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import { AuthErrors, PASSWORD_HASHER } from '../auth.constants.js';
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
  ) {}

  /** Throttled per client (429 before any hashing); 409 when the address is taken in any spelling (canonicalEmail). */
  async register(email: string, password: string, client: ClientInfo = { userAgent: null, ip: null }) {
    await this.registrations.check(client.ip);
    const user = await this.users.create(email.trim(), await this.hasher.hash(password));
    if (!user) throw new ConflictException('Email is already registered');
    this.events.emit('user_registered', { userId: user.id, ip: client.ip });
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
    await this.revocation.changePassword(user.userId, await this.hasher.hash(newPassword), user.sessionId);
    this.events.emit('password_changed', { userId: found.id, sessionId: user.sessionId, ip: client.ip });
  }

  /**
   * DELETE /auth/account: the current password is checked (and throttled) like a login, then the
   * account goes (see deleteUser).
   */
  async deleteAccount(user: AuthenticatedUser, password: string, client: ClientInfo): Promise<void> {
    await this.passwords.current(user.userId, password, client);
    if (!(await this.deleteUser(user.userId, client))) throw new UnauthorizedException(AuthErrors.revoked);
  }

  /**
   * For host apps (and operators): deletes the user and every session of theirs; each of their
   * tokens is refused at once on every instance, and on instances started later (a tombstone
   * stays until the last access token has expired). The email can register again. False when
   * there is no such user.
   */
  async deleteUser(userId: string, client: Partial<ClientInfo> = {}): Promise<boolean> {
    const deleted = await this.revocation.deleteUser(userId);
    if (deleted) this.events.emit('account_deleted', { userId, ip: client.ip ?? null });
    return deleted;
  }

  /** For operators (CLI) and host apps: the user of an address, in any spelling (canonicalEmail). */
  async findUserByEmail(email: string): Promise<PublicUser | null> {
    const user = await this.users.findByEmail(email.trim());
    return user ? { id: user.id, email: user.email } : null;
  }
}
