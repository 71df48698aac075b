import { createHash, randomBytes } from 'node:crypto';
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors, PASSWORD_HASHER } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { AccountTokenPurpose } from '../entities/account-token.entity.js';
import { secondsUntil, TooManyRequestsException } from '../errors/exceptions.js';
import { throttleKey } from '../http/client-address.js';
import type { ResolvedAuthOptions } from '../interfaces/auth-module-options.interface.js';
import type { Clock } from '../interfaces/clock.interface.js';
import type { PasswordHasher } from '../interfaces/password-hasher.interface.js';
import { MailOutboxService } from '../mail/mail-outbox.service.js';
import { AUTH_MAIL_SETTINGS, type MailSettings } from '../mail/mail-settings.js';
import { emailVerificationMail, passwordResetMail } from '../mail/mail-templates.js';
import { AccountTokenRepository } from '../repositories/account-token.repository.js';
import { RateLimitRepository } from '../repositories/rate-limit.repository.js';
import { RevocationService } from '../revocation/revocation.service.js';
import { SecurityEventsService } from '../security-events.service.js';

/** 32 random bytes, base64url: what a link carries. Anything else is not one of ours. */
const ACCOUNT_TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface RecoveryClient {
  ip: string | null;
}

/**
 * Password reset and email verification by mail. Asking for a mail answers the same, in about
 * the same time, whether the account exists or not; the mail itself goes through the outbox.
 * Tokens are random (256 bits), kept as SHA-256 only, single-use, one per user and purpose.
 */
@Injectable()
export class AccountRecoveryService {
  constructor(
    private readonly tokens: AccountTokenRepository,
    private readonly revocation: RevocationService,
    private readonly outbox: MailOutboxService,
    private readonly limits: RateLimitRepository,
    private readonly events: SecurityEventsService,
    @Inject(AUTH_MAIL_SETTINGS) private readonly mail: MailSettings | null,
    @Inject(PASSWORD_HASHER) private readonly hasher: PasswordHasher,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /** True when the module sends mail (the recovery routes exist only then). */
  get enabled(): boolean {
    return this.mail !== null;
  }

  /** POST /auth/password/forgot: a reset link for the account of this email, if there is one. */
  async forgotPassword(email: string, client: RecoveryClient): Promise<void> {
    const mail = this.requireMail();
    await this.throttle('reset', email, client);
    const userId = await this.issue(email, 'password_reset', false, (link) =>
      passwordResetMail(mail.appName, link, this.options.passwordResetTtl),
    );
    if (userId) this.events.emit('password_reset_requested', { userId, ip: client.ip });
  }

  /**
   * POST /auth/password/reset: a valid link's token sets the password, and every session of the
   * user ends at once on every instance (as logout-all). A suspension stays. Any token that is not
   * valid now (used, expired, replaced by a newer one, unknown, malformed) gets the same 400.
   */
  async resetPassword(token: string, newPassword: string, client: RecoveryClient): Promise<void> {
    this.requireMail();
    const hash = tokenHash(token);
    // Checked before the password is hashed: a guessed token costs a lookup, not a hash.
    if (!hash || !(await this.tokens.findValid(hash, 'password_reset', this.clock.now()))) throw invalidLink();
    const userId = await this.revocation.resetPassword(hash, await this.hasher.hash(newPassword));
    if (!userId) throw invalidLink();
    this.events.emit('password_reset', { userId, ip: client.ip });
  }

  /** POST /auth/email/verify: a valid verification token marks the address verified. */
  async verifyEmail(token: string): Promise<void> {
    this.requireMail();
    const hash = tokenHash(token);
    const userId = hash ? await this.tokens.verifyEmail(hash, this.clock.now()) : null;
    if (!userId) throw invalidLink();
    this.events.emit('email_verified', { userId });
  }

  /** POST /auth/email/verify/resend: a new verification link, if the address is an account's and not yet verified. */
  async resendVerification(email: string, client: RecoveryClient): Promise<void> {
    this.requireMail();
    await this.throttle('verify', email, client);
    await this.sendVerification(email, client);
  }

  /** After a registration (which is throttled itself): the first verification link. No-op without mail. */
  async sendVerification(email: string, client: RecoveryClient): Promise<void> {
    const mail = this.mail;
    if (!mail) return;
    const userId = await this.issue(email, 'email_verification', true, (link) =>
      emailVerificationMail(mail.appName, link, this.options.emailVerificationTtl),
    );
    if (userId) this.events.emit('email_verification_requested', { userId, ip: client.ip });
  }

  private async issue(
    email: string,
    purpose: AccountTokenPurpose,
    onlyUnverified: boolean,
    render: (link: string) => ReturnType<typeof passwordResetMail>,
  ): Promise<string | null> {
    const mail = this.requireMail();
    const token = randomBytes(32).toString('base64url');
    const page = purpose === 'password_reset' ? 'reset-password' : 'verify-email';
    const ttl = purpose === 'password_reset' ? this.options.passwordResetTtl : this.options.emailVerificationTtl;
    const now = this.clock.now();
    const userId = await this.tokens.issueWithMail({
      email,
      purpose,
      tokenHash: tokenHash(token) as string,
      now,
      expiresAt: new Date(now.getTime() + ttl * 1000),
      onlyUnverified,
      mail: render(`${mail.pagesUrl}/${page}?token=${token}`),
    });
    // Sent after the answer, whoever asked: the request never waits for the mail server.
    this.outbox.kick();
    return userId;
  }

  /** Per client and per email address, counted before anything else; the same for unknown addresses. */
  private async throttle(flow: 'reset' | 'verify', email: string, client: RecoveryClient): Promise<void> {
    const now = this.clock.now();
    const window = this.options.mailWindow;
    const byEmail = createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
    for (const [scope, key, max] of [
      [`${flow}-ip`, throttleKey(client.ip), this.options.mailMaxPerIp],
      [`${flow}-email`, byEmail, this.options.mailMaxPerEmail],
    ] as const) {
      const decision = await this.limits.hit({ scope, key, now, windowSeconds: window, max });
      if (decision.allowed) continue;
      const wait = secondsUntil(decision.unlocksAt, now);
      this.events.emit('mail_throttled', { userId: null, ip: client.ip, reason: scope });
      throw new TooManyRequestsException(`Too many requests; retry in ${wait} seconds`, wait);
    }
  }

  private requireMail(): MailSettings {
    // Without mail there is no recovery: the routes do not exist for the client.
    if (!this.mail) throw new NotFoundException();
    return this.mail;
  }
}

function tokenHash(token: string): string | null {
  return typeof token === 'string' && ACCOUNT_TOKEN.test(token)
    ? createHash('sha256').update(token, 'utf8').digest('hex')
    : null;
}

function invalidLink(): BadRequestException {
  return new BadRequestException(AuthErrors.invalidAccountToken);
}
