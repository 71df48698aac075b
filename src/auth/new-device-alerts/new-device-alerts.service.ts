import { randomBytes } from 'node:crypto';
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { alertNetworkOf } from '../common/client-address.js';
import type { ClientInfo } from '../common/client-info.js';
import type { Clock } from '../common/clock.interface.js';
import type { TransactionStatements } from '../common/driver-pool.js';
import { MailOutboxService } from '../mail/mail-outbox.service.js';
import { AUTH_MAIL_SETTINGS, type MailSettings } from '../mail/mail-settings.js';
import { newDeviceAlertMail } from '../mail/mail-templates.js';
import { AccountRecoveryService, sealed, tokenHash } from '../recovery/account-recovery.service.js';
import { RevocationService } from '../revocation/revocation.service.js';
import type { SecurityEvent } from '../security-events/security-event.interface.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { NEW_DEVICE_LOOKBACK_DAYS, NewDeviceAlertRepository } from './new-device-alert.repository.js';

/** How long a "This wasn't me" link works: 24 hours. */
export const SECURE_LINK_TTL_SECONDS = 86_400;

/** The outbox purpose of the alert mails. */
export const NEW_DEVICE_ALERT_PURPOSE = 'new_device_alert';

/** A sign-in the alert is about. */
export interface AlertedSignIn {
  userId: string;
  sessionId: string;
  deviceName: string | null;
  ip: string | null;
  at: Date;
}

/**
 * New-device sign-in alerts: a sign-in from a device (name and network) not seen for the user in
 * the last 90 days mails them "New sign-in to your account" with a "This wasn't me" link, written
 * with the session (both or neither). The link's page ends every session of the account and
 * mails a password reset link. On with `newDeviceAlerts` (default) and `mail`.
 */
@Injectable()
export class NewDeviceAlertsService {
  constructor(
    private readonly alerts: NewDeviceAlertRepository,
    private readonly events: SecurityEventsService,
    private readonly recovery: AccountRecoveryService,
    private readonly revocation: RevocationService,
    private readonly outbox: MailOutboxService,
    @Inject(AUTH_MAIL_SETTINGS) private readonly mail: MailSettings | null,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /** The start of the lookback for a sign-in at `now`; null when alerts are off (nothing is compared). */
  lookbackFrom(now: Date): Date | null {
    if (!this.options.newDeviceAlerts || !this.mail) return null;
    return new Date(now.getTime() - NEW_DEVICE_LOOKBACK_DAYS * 86_400_000);
  }

  /**
   * Inside the sign-in's transaction, the device being new: the link's token, the mail and the
   * `new_device_alert` event, in one statement. The event to hand over once committed (then
   * `sent()`).
   */
  async alertIn(transaction: TransactionStatements, signIn: AlertedSignIn): Promise<SecurityEvent> {
    const mail = this.mail as MailSettings;
    const token = randomBytes(32).toString('base64url');
    const network = alertNetworkOf(signIn.ip);
    const mailed = await this.alerts.writeIn(transaction, {
      userId: signIn.userId,
      tokenHash: tokenHash(token) as string,
      now: signIn.at,
      expiresAt: new Date(signIn.at.getTime() + SECURE_LINK_TTL_SECONDS * 1000),
      mail: sealed(
        mail,
        NEW_DEVICE_ALERT_PURPOSE,
        newDeviceAlertMail(
          mail.appName,
          `${mail.pagesUrl}/secure?token=${token}`,
          { deviceName: signIn.deviceName, network, at: signIn.at },
          SECURE_LINK_TTL_SECONDS,
        ),
      ),
      countFromEvents: this.events.storing,
    });
    const event = this.events.event('new_device_alert', {
      userId: signIn.userId,
      sessionId: signIn.sessionId,
      ip: signIn.ip,
      deviceName: signIn.deviceName,
      actor: { kind: 'system' },
      // Not mailed within minutes of the last alert mail (whose link still secures the account).
      details: { mailed },
    });
    await this.events.writeIn(transaction, [event]);
    return event;
  }

  /** Once the sign-in has committed: its event to the handler, its mail on its way. */
  sent(event: SecurityEvent): void {
    this.events.handle(event);
    this.outbox.kick();
  }

  /**
   * `POST /auth/account/secure`: the "This wasn't me" link's token, used once. In one transaction:
   * every session of the account ends on every instance (logout-all), the password stops working
   * and passkeys and connected provider accounts go (whoever signed in cannot come back with
   * them), a password reset link is mailed, and `account_secured` is recorded. 400 `Invalid or expired link` for any token that is
   * not valid now; counted per client as a reset link's submission (429).
   */
  async secure(token: unknown, client: ClientInfo): Promise<void> {
    if (!this.mail) throw new NotFoundException('Not Found');
    await this.recovery.countLinkSubmission('secure-submit', client);
    const hash = typeof token === 'string' ? tokenHash(token) : null;
    const now = this.clock.now();
    const found = hash ? await this.alerts.findValid(hash, now) : null;
    if (!hash || !found) throw invalidLink();
    const by = { ip: client.ip, actor: { kind: 'user' as const, id: found.userId } };
    const secured = await this.revocation.revokeAllForUser(
      found.userId,
      { reason: 'account_secured' },
      by,
      async (events, transaction) => {
        // Used meanwhile (a double click, two tabs): refused, and nothing else happens.
        if (!(await this.alerts.useIn(transaction, hash, found.userId, now))) throw invalidLink();
        const removed = await this.alerts.lockOutIn(transaction, found.userId, now);
        const reason = { userId: found.userId, reason: 'account_secured', ...by };
        await events.write(transaction, 'passkey_removed', ...Array.from({ length: removed.passkeys }, () => reason));
        await events.write(
          transaction,
          'identity_unlinked',
          ...Array.from({ length: removed.identities }, () => reason),
        );
        await this.recovery.issueResetIn(transaction, found.email, now);
        await events.write(transaction, 'account_secured', { userId: found.userId, ...by });
      },
    );
    if (!secured) throw invalidLink();
    this.outbox.kick();
  }
}

function invalidLink(): BadRequestException {
  return new BadRequestException(AuthErrors.invalidAccountToken);
}
