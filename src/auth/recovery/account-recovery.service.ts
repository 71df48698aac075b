import { createHash, randomBytes } from 'node:crypto';
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors, PASSWORD_HASHER } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { canonicalEmail } from '../accounts/email-address.js';
import type { AccountTokenPurpose } from './account-token.entity.js';
import { secondsUntil, TooManyRequestsException } from '../common/exceptions.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import type { PasswordHasher } from '../common/password-hasher.interface.js';
import { MailOutboxService } from '../mail/mail-outbox.service.js';
import { AUTH_MAIL_SETTINGS, type MailSettings } from '../mail/mail-settings.js';
import { emailVerificationMail, passwordResetMail } from '../mail/mail-templates.js';
import type { EntityManager } from 'typeorm';
import type { TransactionStatements } from '../common/driver-pool.js';
import { AccountTokenRepository, type RenderedMail, type TokenIssue } from './account-token.repository.js';
import { OUTBOX_AAD } from '../mail/mail-outbox.service.js';
import { clientHits, type RateLimitDecision, RateLimitRepository } from '../throttling/rate-limit.repository.js';
import { REVOCATION_REASONS, RevocationService } from '../revocation/revocation.service.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';

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

  /** POST /auth/password/forgot: a reset link for the account of this email, if there is one. */
  async forgotPassword(email: string, client: RecoveryClient): Promise<void> {
    const mail = this.requireMail();
    const userId = await this.throttledIssue('reset', email, client, 'password_reset', false, (link) =>
      passwordResetMail(mail.appName, link, this.options.passwordResetTtl),
    );
    if (userId) await this.events.emit('password_reset_requested', { userId, ip: client.ip });
  }

  /**
   * POST /auth/password/reset: a valid link's token sets the password, and every session of the
   * user ends at once on every instance (as logout-all), and every passkey and connected provider
   * account goes (whoever held a session could have added one). A suspension and the authenticator app stay. Any token that is not
   * valid now (used, expired, replaced by a newer one, unknown, malformed) gets the same 400.
   * Throttled per client: each attempt with a valid token costs a password hash.
   */
  async resetPassword(token: string, newPassword: string, client: RecoveryClient): Promise<void> {
    this.requireMail();
    await this.hitClient('reset-submit', this.clock.now(), client);
    const hash = tokenHash(token);
    // Checked before the password is hashed: a guessed token costs a lookup, not a hash.
    if (!hash || !(await this.tokens.findValid(hash, 'password_reset', this.clock.now()))) throw invalidLink();
    const events = this.events.change();
    const reset = await this.tokens.resetPassword(
      hash,
      await this.hasher.hash(newPassword),
      this.clock.now(),
      async (tx, { userId, passkeysRemoved, identitiesRemoved }) => {
        const reason = REVOCATION_REASONS.passwordReset;
        await events.write(tx, 'password_reset', { userId, ip: client.ip });
        await events.write(tx, 'session_revoked', { userId, reason, ip: client.ip });
        await events.write(
          tx,
          'passkey_removed',
          ...Array.from({ length: passkeysRemoved }, () => ({ userId, reason })),
        );
        await events.write(
          tx,
          'identity_unlinked',
          ...Array.from({ length: identitiesRemoved }, () => ({ userId, reason })),
        );
      },
    );
    if (!reset) throw invalidLink();
    this.revocation.committed(reset.events);
    events.announce();
  }

  /**
   * Inside a caller's transaction (securing an account from a new-device alert): a password reset
   * link for the user, as `POST /auth/password/forgot` would mail it, without its throttling (the
   * caller has its own). No-op without mail.
   */
  async issueResetIn(transaction: TransactionStatements, email: string, now: Date): Promise<void> {
    const mail = this.mail;
    if (!mail) return;
    const issue = this.prepare(email, 'password_reset', false, now, (link) =>
      passwordResetMail(mail.appName, link, this.options.passwordResetTtl),
    );
    await this.tokens.issueWithMail(issue, transaction);
  }

  /** Counts a submission of a mailed link from this client (429 past the mail limits), as a reset's. */
  async countLinkSubmission(flow: string, client: RecoveryClient): Promise<void> {
    this.requireMail();
    await this.hitClient(flow, this.clock.now(), client);
  }

  /** POST /auth/email/verify: a valid verification token marks the address verified. */
  async verifyEmail(token: string): Promise<void> {
    this.requireMail();
    const hash = tokenHash(token);
    const userId = hash ? await this.tokens.verifyEmail(hash, this.clock.now()) : null;
    if (!userId) throw invalidLink();
    await this.events.emit('email_verified', { userId });
  }

  /** POST /auth/email/verify/resend: a new verification link, if the address is an account's and not yet verified. */
  async resendVerification(email: string, client: RecoveryClient): Promise<void> {
    const mail = this.requireMail();
    const userId = await this.throttledIssue('verify', email, client, 'email_verification', true, (link) =>
      emailVerificationMail(mail.appName, link, this.options.emailVerificationTtl),
    );
    if (userId) await this.events.emit('email_verification_requested', { userId, ip: client.ip });
  }

  /** After a registration (which is throttled itself): the first verification link. No-op without mail. */
  async sendVerification(email: string, client: RecoveryClient): Promise<void> {
    const mail = this.mail;
    if (!mail) return;
    const issue = this.prepare(email, 'email_verification', true, this.clock.now(), (link) =>
      emailVerificationMail(mail.appName, link, this.options.emailVerificationTtl),
    );
    const userId = await this.tokens.issueWithMail(issue);
    this.outbox.kick();
    if (userId) await this.events.emit('email_verification_requested', { userId, ip: client.ip });
  }

  /**
   * Counted per client, then per address; the per-address count, the token and the mail commit
   * in one transaction, which writes (the count) whether the address is an account's or not: the
   * answer costs the same either way. The mail is sent after the answer. The user id, or null.
   */
  private async throttledIssue(
    flow: 'reset' | 'verify',
    email: string,
    client: RecoveryClient,
    purpose: AccountTokenPurpose,
    onlyUnverified: boolean,
    render: (link: string) => RenderedMail,
  ): Promise<string | null> {
    const now = this.clock.now();
    await this.hitClient(flow, now, client);
    const issue = this.prepare(email, purpose, onlyUnverified, now, render);
    const byEmail = createHash('sha256').update(canonicalEmail(email), 'utf8').digest('hex');
    let userId: string | null = null;
    await this.hit(`${flow}-email`, byEmail, this.options.mailMaxPerEmail, now, client, async (manager) => {
      userId = await this.tokens.issueWithMail(issue, manager);
    });
    // Sent after the answer, whoever asked: the request never waits for the mail server.
    this.outbox.kick();
    return userId;
  }

  /** A new token and its mail, bodies sealed for the outbox (the token itself is never stored). */
  private prepare(
    email: string,
    purpose: AccountTokenPurpose,
    onlyUnverified: boolean,
    now: Date,
    render: (link: string) => RenderedMail,
  ): TokenIssue {
    const mail = this.requireMail();
    const token = randomBytes(32).toString('base64url');
    const page = purpose === 'password_reset' ? 'reset-password' : 'verify-email';
    const ttl = purpose === 'password_reset' ? this.options.passwordResetTtl : this.options.emailVerificationTtl;
    return {
      email,
      purpose,
      tokenHash: tokenHash(token) as string,
      now,
      expiresAt: new Date(now.getTime() + ttl * 1000),
      onlyUnverified,
      mail: sealed(mail, purpose, render(`${mail.pagesUrl}/${page}?token=${token}`)),
    };
  }

  /**
   * Counts a request against the client's limit (`<flow>-ip`: an IPv4 address, an IPv6 /64) and,
   * for IPv6, its /48's (`<flow>-net`), in one step: a refused request spends neither.
   */
  private async hitClient(flow: string, now: Date, client: RecoveryClient): Promise<void> {
    const hits = clientHits(
      client.ip,
      now,
      this.options.mailWindow,
      { scope: `${flow}-ip`, max: this.options.mailMaxPerIp },
      { scope: `${flow}-net`, max: this.options.mailMaxPerNetwork },
    );
    this.refuseUnless(await this.limits.hit(hits), now, client);
  }

  /** One count of a sliding window; 429 with Retry-After over the limit. */
  private async hit(
    scope: string,
    key: string,
    max: number,
    now: Date,
    client: RecoveryClient,
    andThen?: (manager: EntityManager) => Promise<void>,
  ): Promise<void> {
    const window = this.options.mailWindow;
    this.refuseUnless(await this.limits.hit({ scope, key, now, windowSeconds: window, max }, andThen), now, client);
  }

  private refuseUnless(decision: RateLimitDecision, now: Date, client: RecoveryClient): void {
    if (decision.allowed) return;
    const wait = secondsUntil(decision.unlocksAt, now);
    // Not awaited, as the other throttles' refusals.
    void this.events.emit('mail_throttled', { userId: null, ip: client.ip, reason: decision.scope });
    throw new TooManyRequestsException(`Too many requests; retry in ${wait} seconds`, wait);
  }

  private requireMail(): MailSettings {
    // Without mail there is no recovery: the routes do not exist for the client.
    if (!this.mail) throw new NotFoundException('Not Found');
    return this.mail;
  }
}

/** The bodies (which carry the link) encrypted for the outbox; the subject stays readable. */
export function sealed(mail: MailSettings, purpose: string, rendered: RenderedMail): RenderedMail {
  const seal = (text: string) => mail.encryption.encrypt(Buffer.from(text, 'utf8'), OUTBOX_AAD, purpose);
  return { subject: rendered.subject, text: seal(rendered.text), html: seal(rendered.html) };
}

export function tokenHash(token: string): string | null {
  return typeof token === 'string' && ACCOUNT_TOKEN.test(token)
    ? createHash('sha256').update(token, 'utf8').digest('hex')
    : null;
}

function invalidLink(): BadRequestException {
  return new BadRequestException(AuthErrors.invalidAccountToken);
}
