import { randomUUID } from 'node:crypto';
import {
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  type OnModuleInit,
  UnauthorizedException,
} from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors, PASSWORD_HASHER, TOKEN_TYPE_ACCESS, TOKEN_TYPE_REFRESH } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { MAX_DEVICE_NAME_CHARS, truncateCodePoints } from '../common/client-address.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import type { Clock } from '../common/clock.interface.js';
import type { PasswordHasher } from '../common/password-hasher.interface.js';
import type { TokenPair } from './token-pair.interface.js';
import { SessionRepository } from '../sessions/session.repository.js';
import { UserRepository } from '../accounts/user.repository.js';
import { deviceNameFromUserAgent } from '../sessions/device-name.js';
import { LoginThrottleService } from '../throttling/login-throttle.service.js';
import { RegistrationThrottleService } from '../throttling/registration-throttle.service.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { SessionActivityService } from '../sessions/session-activity.service.js';
import { isSignedInBefore, REVOCATION_REASONS, RevocationService } from '../revocation/revocation.service.js';
import { TokenService } from '../tokens/token.service.js';
import { AccountRecoveryService } from '../recovery/account-recovery.service.js';

export interface ClientInfo {
  userAgent: string | null;
  /** A valid IP address or null (see clientAddress). */
  ip: string | null;
}

export interface PublicUser {
  id: string;
  email: string;
}

/** GET /auth/me. */
export interface AccountView extends PublicUser {
  emailVerified: boolean;
}

/** One entry of GET /auth/sessions: nothing in it lets anyone authenticate. */
export interface DeviceSession {
  id: string;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  /** True only for the session of the presenting token. */
  current: boolean;
}

@Injectable()
export class AuthService implements OnModuleInit {
  private readonly logger = new Logger(AuthService.name);
  /** Verified against when the email is unknown, so that both failures cost the same time. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly users: UserRepository,
    private readonly sessions: SessionRepository,
    private readonly tokens: TokenService,
    private readonly revocation: RevocationService,
    private readonly throttle: LoginThrottleService,
    private readonly registrations: RegistrationThrottleService,
    private readonly activity: SessionActivityService,
    private readonly events: SecurityEventsService,
    private readonly recovery: AccountRecoveryService,
    @Inject(PASSWORD_HASHER) private readonly hasher: PasswordHasher,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /** Throttled per client (429 before any hashing); 409 when the email is taken in any letter case. */
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

  /**
   * Throttled (429 before any hashing), then the password is verified; an unknown email is
   * verified against a dummy hash so that both failures cost the same. A suspended account gets
   * 403, and only once the password was right, so that a suspension reveals nothing to others.
   * The session is written only if the password it was verified against is still the user's
   * (see SessionRepository.openWithVerifiedPassword): a password change or a deletion that
   * commits meanwhile leaves no session behind.
   */
  async login(email: string, password: string, deviceName: string | null, client: ClientInfo): Promise<TokenPair> {
    const user = await this.users.findByEmail(email.trim());
    const attempt = await this.throttle.begin(email, client.ip, user?.id ?? null);
    const valid = await this.hasher.verify(user?.passwordHash ?? (await this.getDummyHash()), password);
    if (!user || !valid) {
      this.events.emit('login_failed', { userId: user?.id ?? null, ip: client.ip, reason: 'bad_credentials' });
      throw new UnauthorizedException(AuthErrors.badCredentials);
    }
    await attempt.succeeded();
    // Said only once the password was right, as a suspension is.
    if (this.options.requireVerifiedEmail && !user.emailVerifiedAt) {
      this.events.emit('login_failed', { userId: user.id, ip: client.ip, reason: 'email_not_verified' });
      throw new ForbiddenException(AuthErrors.emailNotVerified);
    }

    const now = this.clock.now();
    const sessionId = randomUUID();
    const sessionEnd = new Date(now.getTime() + this.options.sessionMaxAge * 1000);
    const pair = await this.sessions.openWithVerifiedPassword(
      {
        id: sessionId,
        userId: user.id,
        verifiedPasswordHash: user.passwordHash,
        deviceName: truncateCodePoints(
          deviceName?.trim() || deviceNameFromUserAgent(client.userAgent),
          MAX_DEVICE_NAME_CHARS,
        ),
        userAgent: client.userAgent,
        ip: client.ip,
        now,
        expiresAt: sessionEnd,
      },
      (signedInAt, suspendedUntil) => {
        if (suspendedUntil && suspendedUntil > now) {
          this.events.emit('login_failed', { userId: user.id, ip: client.ip, reason: 'suspended' });
          throw new ForbiddenException(`Account suspended until ${suspendedUntil.toISOString()}`);
        }
        const subject = { userId: user.id, sessionId, authenticatedAt: signedInAt };
        const refresh = this.tokens.issue(TOKEN_TYPE_REFRESH, subject, sessionEnd, now);
        const access = this.tokens.issue(TOKEN_TYPE_ACCESS, subject, sessionEnd, now);
        return {
          refreshTokenHash: TokenService.hash(refresh.token),
          refreshExpiresAt: refresh.expiresAt,
          value: this.pair(access.token, access.expiresAt, refresh.token, sessionId, now),
        };
      },
    );
    if (!pair) {
      // The password changed (or the account went) between the check and the session.
      this.events.emit('login_failed', { userId: user.id, ip: client.ip, reason: 'password_changed_meanwhile' });
      throw new UnauthorizedException(AuthErrors.badCredentials);
    }
    this.activity.remember(sessionId, now);
    this.events.emit('login_succeeded', { userId: user.id, sessionId, ip: client.ip });
    return { ...pair, emailVerified: user.emailVerifiedAt !== null };
  }

  /**
   * Rotates a refresh token. The token just rotated out, presented within the reuse grace, gets a
   * plain 401 (a client racing itself); any other rotated-out token is taken as theft and ends the
   * whole session. New tokens carry the session's sign-in time, never a later one.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const claims = await this.tokens.verifyFresh(refreshToken, TOKEN_TYPE_REFRESH);
    const found = await this.sessions.findWithUserCutoff(claims.sid);
    if (!found || found.session.userId !== claims.sub) throw new UnauthorizedException(AuthErrors.revoked);
    const { session } = found;

    const now = this.clock.now();
    const subject = { userId: claims.sub, sessionId: claims.sid, authenticatedAt: session.createdAt };
    const refresh = this.tokens.issue(TOKEN_TYPE_REFRESH, subject, session.expiresAt, now);
    const access = this.tokens.issue(TOKEN_TYPE_ACCESS, subject, session.expiresAt, now);
    const presentedHash = TokenService.hash(refreshToken);
    const rotated = await this.sessions.rotateRefreshToken({
      sessionId: claims.sid,
      userId: claims.sub,
      presentedHash,
      newHash: TokenService.hash(refresh.token),
      newRefreshExpiresAt: refresh.expiresAt,
      now,
    });
    if (rotated) {
      this.activity.remember(claims.sid, now);
      return this.pair(access.token, access.expiresAt, refresh.token, claims.sid, now);
    }

    // Not rotated: find out why, from the state as it is now (another request may have rotated first).
    const current = (await this.sessions.findWithUserCutoff(claims.sid)) ?? found;
    if (current.session.revokedAt || isSignedInBefore(current.session.createdAt.getTime(), current.tokensValidAfter)) {
      throw new UnauthorizedException(AuthErrors.revoked);
    }
    if (current.session.expiresAt <= now || current.session.refreshExpiresAt <= now) {
      throw new UnauthorizedException(AuthErrors.expired);
    }
    const rotatedAt = current.session.refreshRotatedAt?.getTime() ?? 0;
    const withinGrace = now.getTime() - rotatedAt <= this.options.refreshReuseGrace * 1000;
    if (presentedHash === current.session.previousRefreshTokenHash && withinGrace) {
      throw new UnauthorizedException(AuthErrors.revoked);
    }
    // A token we signed for this session that is neither current nor a just-replaced one: reuse.
    if (await this.revocation.revokeSession(claims.sub, claims.sid, REVOCATION_REASONS.refreshReuse)) {
      this.events.emit('refresh_reuse_detected', { userId: claims.sub, sessionId: claims.sid });
    }
    throw new UnauthorizedException(AuthErrors.revoked);
  }

  async logout(user: AuthenticatedUser): Promise<void> {
    const revoked = await this.revocation.revokeSessionAndToken(
      user.userId,
      user.sessionId,
      { jti: user.tokenId, expiresAt: user.tokenExpiresAt },
      REVOCATION_REASONS.logout,
    );
    // The guard has just checked the session; losing a race with another revocation is still a revoked token.
    if (!revoked) throw new UnauthorizedException(AuthErrors.revoked);
  }

  async logoutAll(user: AuthenticatedUser): Promise<void> {
    const revoked = await this.revocation.revokeAllForUser(user.userId);
    if (!revoked) throw new UnauthorizedException(AuthErrors.revoked);
  }

  /** The caller's active sessions; `current` marks the one of the presenting token. */
  async listSessions(user: AuthenticatedUser): Promise<DeviceSession[]> {
    const sessions = await this.sessions.listActive(user.userId, this.clock.now());
    return sessions.map((session) => ({
      id: session.id,
      deviceName: session.deviceName,
      userAgent: session.userAgent,
      ip: session.ip,
      createdAt: session.createdAt.toISOString(),
      lastUsedAt: session.lastUsedAt.toISOString(),
      current: session.id === user.sessionId,
    }));
  }

  /** "Sign out all other devices": every session of the caller but the current one. */
  async revokeOtherSessions(user: AuthenticatedUser): Promise<void> {
    await this.revocation.revokeOtherSessions(user.userId, user.sessionId);
  }

  /** Signs one device out; 404 when it is not an active session of the caller (another user's included). */
  async revokeDevice(user: AuthenticatedUser, sessionId: string): Promise<void> {
    const revoked = await this.revocation.revokeSession(user.userId, sessionId, REVOCATION_REASONS.deviceRevoked);
    if (!revoked) throw new NotFoundException('Session not found');
  }

  /**
   * Changes the password after checking the current one (a wrong one counts as a failed login).
   * Every other session of the user is revoked at once; the current one keeps working. A login
   * with the old password that is still in flight cannot leave a session behind (see login).
   */
  async changePassword(
    user: AuthenticatedUser,
    currentPassword: string,
    newPassword: string,
    client: ClientInfo,
  ): Promise<void> {
    const found = await this.verifyCurrentPassword(user.userId, currentPassword, client);
    await this.revocation.changePassword(user.userId, await this.hasher.hash(newPassword), user.sessionId);
    this.events.emit('password_changed', { userId: found.id, sessionId: user.sessionId, ip: client.ip });
  }

  /**
   * DELETE /auth/account: the current password is checked (and throttled) like a login, then the
   * account goes (see deleteUser).
   */
  async deleteAccount(user: AuthenticatedUser, password: string, client: ClientInfo): Promise<void> {
    await this.verifyCurrentPassword(user.userId, password, client);
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

  /** For operators (CLI) and host apps: the user of an email, any letter case. */
  async findUserByEmail(email: string): Promise<PublicUser | null> {
    const user = await this.users.findByEmail(email.trim());
    return user ? { id: user.id, email: user.email } : null;
  }

  async me(user: AuthenticatedUser): Promise<AccountView> {
    const found = await this.users.findById(user.userId);
    if (!found) throw new NotFoundException('User not found');
    return { id: found.id, email: found.email, emailVerified: found.emailVerifiedAt !== null };
  }

  /** Throttled like a login; 401 `Current password is incorrect` when wrong. */
  private async verifyCurrentPassword(userId: string, password: string, client: ClientInfo) {
    const found = await this.users.findById(userId);
    if (!found) throw new UnauthorizedException(AuthErrors.revoked);
    const attempt = await this.throttle.begin(found.email, client.ip, found.id);
    if (!(await this.hasher.verify(found.passwordHash, password))) {
      this.events.emit('login_failed', { userId: found.id, ip: client.ip, reason: 'wrong_current_password' });
      throw new UnauthorizedException(AuthErrors.wrongCurrentPassword);
    }
    await attempt.succeeded();
    return found;
  }

  private pair(
    accessToken: string,
    accessExpiresAt: Date,
    refreshToken: string,
    sessionId: string,
    now: Date,
  ): TokenPair {
    return {
      accessToken,
      refreshToken,
      tokenType: 'Bearer',
      // Both ends in whole seconds, as the token's own iat and exp are.
      expiresIn: Math.max(0, Math.floor(accessExpiresAt.getTime() / 1000) - Math.floor(now.getTime() / 1000)),
      sessionId,
    };
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
