import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import { MailOutboxRepository, type OutboxMail } from './mail-outbox.repository.js';
import { AUTH_MAIL_SETTINGS, type MailSettings } from './mail-settings.js';

/** How often each instance looks for mails that are due (new ones are sent at once, see kick). */
const DRAIN_INTERVAL_MS = 15_000;
/** A claimed mail comes back to the queue after this, should its sender die while sending. */
const LEASE_MS = 120_000;
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 3_600_000;
/**
 * Each sender claims one mail at a time: each has a lease of its own, which a hanging mail server
 * (10 s per connection phase) cannot outlast, so no other instance sends it meanwhile.
 * `mail.concurrency` senders (default 4) work at once per instance.
 */
const BATCH = 1;
/** Associated data of the encrypted bodies (with the purpose): they decrypt only as outbox bodies. */
export const OUTBOX_AAD = 'mail-outbox';

export interface DrainResult {
  sent: number;
  failed: number;
  /** Mails whose link expired before they could be sent. */
  dropped: number;
}

/**
 * Sends the outbox: right after a request queues a mail (without the request waiting for it),
 * and every 15 s for retries, `mail.concurrency` mails at once, reset and security mails first
 * and then the link that expires first (MailOutboxRepository.claimDue). A mail server that is down costs a retry later (30 s, doubling, at
 * most an hour between attempts) and a log line, never the request. A mail is deleted once sent,
 * and dropped unsent once its link has expired.
 */
@Injectable()
export class MailOutboxService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Mail');
  private running: Promise<DrainResult> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly outbox: MailOutboxRepository,
    @Inject(AUTH_MAIL_SETTINGS) private readonly settings: MailSettings | null,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.settings) return;
    this.timer = setInterval(() => this.kick(), DRAIN_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Sends what is due, in the background; a drain asked for while one runs runs once more after it. */
  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    void this.drain().catch((error: Error) => this.logger.warn(`Outbox not drained: ${error.message}`));
  }

  /** Sends every mail that is due now; concurrent callers share one pass. */
  drain(): Promise<DrainResult> {
    this.running ??= this.drainOnce().finally(() => {
      this.running = null;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
    return this.running;
  }

  private async drainOnce(): Promise<DrainResult> {
    const result: DrainResult = { sent: 0, failed: 0, dropped: 0 };
    if (!this.settings) return result;
    result.dropped = await this.outbox.dropExpired(this.clock.now());
    if (result.dropped > 0) this.logger.warn(`${result.dropped} mail(s) dropped unsent: their link has expired`);
    // Bounded parallelism: a fixed number of senders, each claiming the next mail once it is done.
    await Promise.all(Array.from({ length: this.settings.concurrency }, () => this.sendUntilEmpty(result)));
    return result;
  }

  /** One sender: claims and sends the next due mail until none is left. */
  private async sendUntilEmpty(result: DrainResult): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      const batch = await this.outbox.claimDue(now, new Date(now.getTime() + LEASE_MS), BATCH);
      for (const mail of batch) await this.send(mail, result);
      if (batch.length < BATCH) return;
    }
  }

  private async send(mail: OutboxMail, result: DrainResult): Promise<void> {
    const { transport, from, encryption } = this.settings as MailSettings;
    let text: string;
    let html: string | null;
    try {
      const open = (sealed: string) => encryption.decrypt(sealed, OUTBOX_AAD, mail.purpose).toString('utf8');
      text = open(mail.text);
      html = mail.html ? open(mail.html) : null;
    } catch {
      // Sealed under another key-encryption secret: it can never be sent.
      await this.outbox.delivered(mail.id);
      result.dropped += 1;
      this.logger.error(`Mail "${mail.subject}" dropped: it does not decrypt with this key-encryption secret`);
      return;
    }
    try {
      await transport.send({ from, to: mail.recipient, subject: mail.subject, text, ...(html ? { html } : {}) });
      await this.outbox.delivered(mail.id);
      result.sent += 1;
    } catch (error) {
      const wait = Math.min(FIRST_RETRY_MS * 2 ** (mail.attempts - 1), MAX_RETRY_MS);
      const message = (error as Error).message;
      await this.outbox.failed(mail.id, new Date(this.clock.now().getTime() + wait), message);
      result.failed += 1;
      this.logger.warn(
        `Mail "${mail.subject}" not sent (attempt ${mail.attempts}): ${message}; next attempt in ${Math.round(wait / 1000)} s`,
      );
    }
  }
}
