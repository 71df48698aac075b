import type { TransactionStatements } from '../common/driver-pool.js';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { RevocationRepository } from '../revocation/revocation.repository.js';
import type { RevocationEvent } from '../revocation/revocation-events.js';
import type { UserCutoffHook } from '../revocation/user-cutoff-hooks.js';
import { canonicalEmail } from '../accounts/email-address.js';
import { removeAddedWaysIn } from '../accounts/ways-in.js';
import type { AccountTokenPurpose } from './account-token.entity.js';

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface TokenIssue {
  /** As typed: the account is found in any spelling (canonicalEmail); the mail goes to its stored address. */
  email: string;
  purpose: AccountTokenPurpose;
  tokenHash: string;
  now: Date;
  expiresAt: Date;
  /** Only for an address not yet verified (verification mails). */
  onlyUnverified: boolean;
  mail: RenderedMail;
}

/** The single-use tokens sent by mail (password reset, email verification), hashes only. */
@Injectable()
export class AccountTokenRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly revocations: RevocationRepository,
  ) {}

  /**
   * A password reset by mail, in one transaction: the token is used up (two requests with the same
   * token: one wins), every session of the user ended by the cut-off (as logout-all), the password
   * replaced, the address marked verified (the mail reached its owner), every passkey and
   * connected provider account removed (one added by whoever held a session would otherwise
   * outlive the reset), and the cut-off
   * announced. A suspension and the authenticator app stay. Null when the token is not (or no
   * longer) valid.
   */
  async resetPassword(
    tokenHash: string,
    passwordHash: string,
    now: Date,
    also: (transaction: TransactionStatements, reset: PasswordResetDone) => Promise<void> = async () => undefined,
  ): Promise<PasswordResetDone | null> {
    return this.dataSource.transaction(async (manager) => {
      const [used] = (await manager.query(
        `DELETE FROM account_tokens
          WHERE token_hash = $1 AND purpose = 'password_reset' AND expires_at > $2
          RETURNING user_id::text AS "userId"`,
        [tokenHash, now],
      )) as [Array<{ userId: string }>, number];
      if (used.length === 0) return null;
      const { userId } = used[0];
      const cutoff = await this.revocations.cutOffUserIn(manager, userId, now);
      if (!cutoff) return null;
      await manager.query(
        `UPDATE users SET password_hash = $2, email_verified_at = COALESCE(email_verified_at, $3), updated_at = $3
          WHERE id = $1`,
        [userId, passwordHash, now],
      );
      const removed = await removeAddedWaysIn(manager, userId);
      const events: RevocationEvent[] = [{ kind: 'user', userId, validAfter: cutoff.tokensValidAfter.getTime() }];
      const done = { userId, events, passkeysRemoved: removed.passkeys, identitiesRemoved: removed.identities };
      await also(manager, done);
      await this.revocations.notifyIn(manager, events);
      return done;
    });
  }

  /**
   * For the account of `email`, if there is one: replaces its token of this purpose (one per user
   * and purpose: an earlier link stops working), drops the unsent mails of the same purpose, and
   * queues the mail, all in one statement. An unknown email runs the same statement and changes
   * nothing: the answer takes as long either way. The user id when a mail was queued, else null.
   */
  async issueWithMail(
    issue: TokenIssue,
    manager: TransactionStatements = this.dataSource.manager,
  ): Promise<string | null> {
    const rows = (await manager.query(
      `WITH target AS (
         SELECT id, email FROM users
          WHERE email_canonical = $1 AND (NOT $2 OR email_verified_at IS NULL)),
       issued AS (
         INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at)
         SELECT $4, id, $3, $5, $6 FROM target
         ON CONFLICT (user_id, purpose) DO UPDATE
           SET token_hash = EXCLUDED.token_hash, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         RETURNING user_id),
       superseded AS (
         DELETE FROM mail_outbox o USING target WHERE o.user_id = target.id AND o.purpose = $3),
       queued AS (
         INSERT INTO mail_outbox (user_id, purpose, recipient, subject, body_text, body_html, created_at, next_attempt_at, not_after)
         SELECT target.id, $3, target.email, $7, $8, $9, $5, $5, $6
           FROM target JOIN issued ON issued.user_id = target.id
         RETURNING user_id)
       SELECT user_id::text AS "userId" FROM queued`,
      [
        canonicalEmail(issue.email),
        issue.onlyUnverified,
        issue.purpose,
        issue.tokenHash,
        issue.now,
        issue.expiresAt,
        issue.mail.subject,
        issue.mail.text,
        issue.mail.html,
      ],
    )) as Array<{ userId: string }>;
    return rows[0]?.userId ?? null;
  }

  /** True when the user's email address is verified (false for an unknown user). */
  async isEmailVerified(userId: string): Promise<boolean> {
    const rows = (await this.dataSource.query(
      `SELECT email_verified_at IS NOT NULL AS verified FROM users WHERE id = $1`,
      [userId],
    )) as Array<{ verified: boolean }>;
    return rows[0]?.verified === true;
  }

  /** The user of a token that is still valid, without using it up. */
  async findValid(tokenHash: string, purpose: AccountTokenPurpose, now: Date): Promise<string | null> {
    const rows = (await this.dataSource.query(
      `SELECT user_id::text AS "userId" FROM account_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3`,
      [tokenHash, purpose, now],
    )) as Array<{ userId: string }>;
    return rows[0]?.userId ?? null;
  }

  /**
   * Uses up a verification token and marks its user's address verified, in one statement (two
   * requests with the same token: one wins). The user id, or null when the token is not valid.
   */
  async verifyEmail(tokenHash: string, now: Date): Promise<string | null> {
    const rows = (await this.dataSource.query(
      `WITH used AS (
         DELETE FROM account_tokens
          WHERE token_hash = $1 AND purpose = 'email_verification' AND expires_at > $2
          RETURNING user_id)
       UPDATE users u SET email_verified_at = COALESCE(u.email_verified_at, $2), updated_at = $2
         FROM used WHERE u.id = used.user_id
       RETURNING u.id::text AS "userId"`,
      [tokenHash, now],
    )) as [Array<{ userId: string }>, number];
    return rows[0][0]?.userId ?? null;
  }
}

/** A password reset, done: what it ended and removed. */
export interface PasswordResetDone {
  userId: string;
  events: RevocationEvent[];
  passkeysRemoved: number;
  identitiesRemoved: number;
}

/**
 * A user's password-reset links still out (their tokens, and their unsent mails) stop working when
 * their sessions are cut off or their password changes: whoever asked for one (the user, or
 * someone in their mailbox) asks again. A USER_CUTOFF_HOOKS entry.
 */
export const dropResetLinks: UserCutoffHook = async (manager, userId) => {
  await manager.query(`DELETE FROM account_tokens WHERE user_id = $1 AND purpose = 'password_reset'`, [userId]);
  await manager.query(`DELETE FROM mail_outbox WHERE user_id = $1 AND purpose = 'password_reset'`, [userId]);
};
