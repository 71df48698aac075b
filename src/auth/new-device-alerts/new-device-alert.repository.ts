import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool, type TransactionStatements } from '../common/driver-pool.js';
import type { RenderedMail } from '../recovery/account-token.repository.js';
import { removeAddedWaysIn } from '../accounts/ways-in.js';
import { alertNetwork } from '../security-events/auth-event.repository.js';

/** How far back a device counts as known: a sign-in or a session used in the last 90 days. */
export const NEW_DEVICE_LOOKBACK_DAYS = 90;

/**
 * Alert mails to one user: at most ALERT_MAILS_PER_COOLDOWN within ALERT_MAIL_COOLDOWN_MINUTES
 * (with the event store; without it, one). Enough that an intruder's sign-in right after the
 * owner's own new device is mailed too; too few to flood a mailbox.
 */
export const ALERT_MAIL_COOLDOWN_MINUTES = 10;
export const ALERT_MAILS_PER_COOLDOWN = 3;

/**
 * SQL, in the statement that opens a session (whose snapshot does not see it): whether the sign-in
 * is from a new device. Parameters: the user (`user`), the device name (`device`), the client
 * address (`ip`) and the start of the lookback (`since`). New when no session of the user used
 * since then, and no sign-in event since then, has this device name and network (IPv4 /24, IPv6
 * /48); never for the account's first sign-in (no session or sign-in ever, and registered within
 * the lookback: its row's creation, or its `user_registered` event, both clocks' say): whoever
 * registered is on the device they register from.
 */
export function newDeviceSql(p: { user: string; device: string; ip: string; since: string }): string {
  const network = alertNetwork(`${p.ip}::text`);
  // A sign-in always has a device name (the client's, else its user agent's): plain equality,
  // which the indexes serve.
  return `(NOT EXISTS (SELECT 1 FROM sessions k
                        WHERE k.user_id = ${p.user} AND k.device_name = ${p.device}::text
                          AND k.last_used_at > ${p.since}
                          AND ${alertNetwork('k.ip')} IS NOT DISTINCT FROM ${network})
       AND NOT EXISTS (SELECT 1 FROM auth_events e
                        WHERE e.user_id = ${p.user} AND e.type = 'login_succeeded'
                          AND e.device_name = ${p.device}::text AND e.at > ${p.since}
                          AND e.network IS NOT DISTINCT FROM ${network})
       AND (EXISTS (SELECT 1 FROM sessions k WHERE k.user_id = ${p.user})
            OR EXISTS (SELECT 1 FROM auth_events e WHERE e.user_id = ${p.user} AND e.type = 'login_succeeded')
            OR ((SELECT u.created_at FROM users u WHERE u.id = ${p.user}) <= ${p.since}
                AND NOT EXISTS (SELECT 1 FROM auth_events e
                                 WHERE e.user_id = ${p.user} AND e.type = 'user_registered' AND e.at > ${p.since}))))`;
}

/** A new-device alert to write with the sign-in: its link's token (hashed), its sealed mail, its event. */
export interface AlertWrite {
  userId: string;
  tokenHash: string;
  now: Date;
  expiresAt: Date;
  mail: RenderedMail;
  /** The event store is on: the cool-down counts the alerts mailed (else the last link's age). */
  countFromEvents: boolean;
}

/** The alerts' SQL: the link and the mail with the sign-in, and the link's one use. */
@Injectable()
export class NewDeviceAlertRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Inside the sign-in's transaction, in one statement: the user's "This wasn't me" token (one per
   * user: a newer alert's link replaces an older one) and the mail to their address; true when
   * mailed. Past the cool-down's allowance (ALERT_MAILS_PER_COOLDOWN), nothing is mailed: whoever
   * signs in again and again from new names cannot flood the mailbox nor keep replacing the link
   * (the last one mailed stays valid, and secures the account whatever signed in since).
   */
  async writeIn(transaction: TransactionStatements, alert: AlertWrite): Promise<boolean> {
    const rows: Array<{ mailed: boolean }> = await transaction.query(
      `WITH target AS (
         SELECT id, email FROM users WHERE id = $1
            AND CASE WHEN $9::boolean
                  -- The alerts mailed lately, from the event store.
                  THEN (SELECT count(*) FROM auth_events e
                         WHERE e.user_id = $1 AND e.type = 'new_device_alert' AND e.details @> '{"mailed": true}'
                           AND e.at > $3::timestamptz - make_interval(mins => $8)) < $10
                  -- Without it, the last alert's link: one mail per cool-down.
                  ELSE NOT EXISTS (SELECT 1 FROM account_tokens t
                                    WHERE t.user_id = $1 AND t.purpose = 'secure_account'
                                      AND t.created_at > $3::timestamptz - make_interval(mins => $8)) END),
       issued AS (
         INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at)
         SELECT $2, id, 'secure_account', $3, $4 FROM target
         ON CONFLICT (user_id, purpose) DO UPDATE
           SET token_hash = EXCLUDED.token_hash, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         RETURNING user_id),
       queued AS (
         INSERT INTO mail_outbox (user_id, purpose, recipient, subject, body_text, body_html, created_at, next_attempt_at, not_after)
         SELECT target.id, 'new_device_alert', target.email, $5, $6, $7, $3, $3, $4
           FROM target JOIN issued ON issued.user_id = target.id
         RETURNING user_id)
       SELECT EXISTS (SELECT 1 FROM queued) AS mailed`,
      [
        alert.userId,
        alert.tokenHash,
        alert.now,
        alert.expiresAt,
        alert.mail.subject,
        alert.mail.text,
        alert.mail.html,
        ALERT_MAIL_COOLDOWN_MINUTES,
        alert.countFromEvents,
        ALERT_MAILS_PER_COOLDOWN,
      ],
    );
    return rows[0].mailed;
  }

  /**
   * Securing the account, in the caller's transaction: the password stops working (a new one
   * comes from the reset mail), and every passkey and connected provider account goes, as a reset
   * would remove them: whoever signed in cannot come back with what they knew or added. The
   * user's "This wasn't me" tokens go too. How many passkeys and accounts were removed.
   */
  async lockOutIn(
    transaction: TransactionStatements,
    userId: string,
    now: Date,
  ): Promise<{ passkeys: number; identities: number }> {
    await transaction.query('UPDATE users SET password_hash = NULL, updated_at = $2 WHERE id = $1', [userId, now]);
    const removed = await removeAddedWaysIn(transaction, userId);
    await transaction.query(`DELETE FROM account_tokens WHERE user_id = $1 AND purpose = 'secure_account'`, [userId]);
    return removed;
  }

  /** The user and address of a "This wasn't me" token still valid, without using it. */
  async findValid(tokenHash: string, now: Date): Promise<{ userId: string; email: string } | null> {
    const { rows } = await driverPool(this.dataSource).query<{ userId: string; email: string }>(
      `SELECT t.user_id::text AS "userId", u.email FROM account_tokens t JOIN users u ON u.id = t.user_id
        WHERE t.token_hash = $1 AND t.purpose = 'secure_account' AND t.expires_at > $2`,
      [tokenHash, now],
    );
    return rows[0] ?? null;
  }

  /** Uses the token up, in the caller's transaction: false when it is no longer valid (used meanwhile). */
  async useIn(transaction: TransactionStatements, tokenHash: string, userId: string, now: Date): Promise<boolean> {
    const [rows] = (await transaction.query(
      `DELETE FROM account_tokens
        WHERE token_hash = $1 AND user_id = $2 AND purpose = 'secure_account' AND expires_at > $3 RETURNING 1`,
      [tokenHash, userId, now],
    )) as [unknown[], number];
    return rows.length === 1;
  }
}
