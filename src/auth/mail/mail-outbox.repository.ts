import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export interface OutboxMail {
  id: string;
  purpose: string;
  recipient: string;
  subject: string;
  text: string;
  html: string | null;
  attempts: number;
}

/** The order mails are sent in; `mail_outbox_send_order_idx` (migration PrioritiseMailOutbox) is on it. */
export const SEND_ORDER = `(purpose = 'email_verification'), not_after, id`;

/** The mail outbox: mails claimed by one instance at a time, deleted once sent or expired. */
@Injectable()
export class MailOutboxRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Claims up to `limit` mails that are due: their next attempt moves to `leaseUntil`, so that no
   * other instance sends them meanwhile (and a crashed sender's mails come back after the lease),
   * and their attempt count goes up. Password-reset and security mails come before verification
   * mails, and within each, the link that expires first goes first: a flood of verification mails
   * cannot hold a reset mail until its link expires. The order is an index's
   * (`mail_outbox_send_order_idx`), so a claim reads a few rows however long the queue.
   */
  async claimDue(now: Date, leaseUntil: Date, limit: number): Promise<OutboxMail[]> {
    const [rows] = (await this.dataSource.query(
      `UPDATE mail_outbox o SET next_attempt_at = $2, attempts = o.attempts + 1
        WHERE o.id IN (
          SELECT id FROM mail_outbox
           WHERE next_attempt_at <= $1 AND not_after > $1
           ORDER BY ${SEND_ORDER} LIMIT $3
           FOR UPDATE SKIP LOCKED)
        RETURNING o.id::text AS id, o.purpose, o.recipient, o.subject, o.body_text AS text, o.body_html AS html, o.attempts`,
      [now, leaseUntil, limit],
    )) as [OutboxMail[], number];
    return rows;
  }

  /** Deletes a mail: sent, or never sendable. */
  async delivered(id: string): Promise<void> {
    await this.dataSource.query('DELETE FROM mail_outbox WHERE id = $1', [id]);
  }

  async failed(id: string, nextAttemptAt: Date, error: string): Promise<void> {
    await this.dataSource.query('UPDATE mail_outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1', [
      id,
      nextAttemptAt,
      error.slice(0, 500),
    ]);
  }

  /** Deletes the mails whose link has expired, sent or not: returns how many. */
  async dropExpired(now: Date): Promise<number> {
    const [, count] = (await this.dataSource.query('DELETE FROM mail_outbox WHERE not_after <= $1', [now])) as [
      unknown,
      number,
    ];
    return count;
  }

  /** Mails waiting, and the attempts made so far on them (operators and tests). */
  async pending(): Promise<Array<{ recipient: string; attempts: number; lastError: string | null }>> {
    return (await this.dataSource.query(
      `SELECT recipient, attempts, last_error AS "lastError" FROM mail_outbox ORDER BY id`,
    )) as Array<{ recipient: string; attempts: number; lastError: string | null }>;
  }
}
