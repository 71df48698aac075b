import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import type { TransactionStatements } from '../common/driver-pool.js';
import { notCutOff } from '../sessions/session.repository.js';
import { NotificationRepository } from '../notifications/notification.repository.js';
import { encodeEvent, type RevocationEvent, splitForNotify } from './revocation-events.js';
import { USER_CUTOFF_HOOKS, type UserCutoffHook } from './user-cutoff-hooks.js';
import { userSessionsLock } from './user-sessions-lock.js';

export interface UserCutoff {
  tokensValidAfter: Date;
  suspendedUntil: Date | null;
}

/**
 * What else a revocation writes in its transaction, once its change is made (its security events):
 * given what it revoked. Throwing rolls the whole change back.
 */
export type AlsoIn = (transaction: TransactionStatements, revoked: RevocationEvent[]) => Promise<void>;

const nothingElse = async (): Promise<void> => undefined;

export interface RevokedTokenRecord {
  jti: string;
  expiresAt: Date;
}

/**
 * Writes of revocation state (the denylist, session revocation, users' cut-off), each announced by
 * NOTIFY in its own transaction. The reads are RevocationStateRepository's.
 */
@Injectable()
export class RevocationRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    /**
     * What other capabilities drop with a user's sessions (recovery: the reset links out). Not
     * optional: a module that forgot it would end sessions and leave the links working.
     */
    @Inject(USER_CUTOFF_HOOKS) private readonly hooks: UserCutoffHook[],
    private readonly notifications: NotificationRepository,
  ) {}

  /**
   * Revokes one session of the user (only while it is active: not revoked, not ended) and, when
   * given, puts the presenting access token on the denylist; announces both, all in one
   * transaction. Null when there is no such active session of that user.
   */
  async revokeSession(
    userId: string,
    sessionId: string,
    now: Date,
    reason: string,
    token?: RevokedTokenRecord,
    also: AlsoIn = nothingElse,
  ): Promise<RevocationEvent[] | null> {
    return this.dataSource.transaction(async (manager) => {
      const [rows] = (await manager.query(
        `UPDATE sessions s SET revoked_at = $3, revoked_reason = $4
          WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL
            AND s.expires_at > $3 AND s.refresh_expires_at > $3
            AND ${notCutOff('s')}
          RETURNING s.id`,
        [sessionId, userId, now, reason],
      )) as [unknown[], number];
      if (rows.length === 0) return null;
      const events: RevocationEvent[] = [{ kind: 'sessions', ids: [sessionId], revokedAt: now.getTime() }];
      if (token) {
        await manager.query(
          `INSERT INTO revoked_tokens (jti, user_id, expires_at, revoked_at, reason)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING`,
          [token.jti, userId, token.expiresAt, now, reason],
        );
        events.push({ kind: 'token', jti: token.jti, expiresAt: token.expiresAt.getTime() });
      }
      await also(manager, events);
      await this.notify(manager, events);
      return events;
    });
  }

  /**
   * Revokes every token of a user with one row update of users.tokens_valid_after (never moved
   * back), and announces the new cut-off, in one transaction: the cost does not grow with the
   * number of sessions. The cut-off is the database's clock, rounded up to the next millisecond,
   * the clock sessions are stamped with at sign-in: neither a refresh racing this (it keeps its
   * session's sign-in time) nor an instance whose clock runs behind can produce a token that
   * survives it. Sessions are not updated one by one; see notCutOff. With `suspendUntil` the
   * account is also suspended until then (never shortened). Null when there is no such user.
   */
  async revokeAllForUser(
    userId: string,
    suspendUntil: Date | null,
    now: Date,
    also: (transaction: TransactionStatements, cutoff: UserCutoff) => Promise<void> = nothingElse,
  ): Promise<{ events: RevocationEvent[]; cutoff: UserCutoff } | null> {
    return this.dataSource.transaction(async (manager) => {
      const cutoff = await this.cutOffUser(manager, userId, suspendUntil, now);
      if (!cutoff) return null;
      const events: RevocationEvent[] = [{ kind: 'user', userId, validAfter: cutoff.tokensValidAfter.getTime() }];
      await also(manager, cutoff);
      await this.notify(manager, events);
      return { events, cutoff };
    });
  }

  /**
   * Inside a caller's transaction (a password reset, in the recovery capability): moves the user's
   * cut-off as revokeAllForUser does, without suspending. Null when there is no such user.
   */
  cutOffUserIn(manager: EntityManager, userId: string, now: Date): Promise<UserCutoff | null> {
    return this.cutOffUser(manager, userId, null, now);
  }

  /** Inside a caller's transaction: the NOTIFY that announces `events` when it commits. */
  notifyIn(manager: EntityManager, events: RevocationEvent[]): Promise<void> {
    return this.notify(manager, events);
  }

  /** NOTIFY inside the revoking transaction (delivered on commit, never on rollback), in one statement, signed. */
  private notify(manager: TransactionStatements, events: RevocationEvent[]): Promise<void> {
    return this.notifications.notifyIn(manager, events.flatMap(splitForNotify).map(encodeEvent));
  }

  /**
   * Ends the user's live sessions beyond the `keep` most recently used (last_used_at, then sign-in
   * time), inside the caller's transaction (a login, once its session is written), and announces
   * them there. Logins of one user take turns here (a transaction-scoped advisory lock), and each
   * counts with a snapshot taken after the turn came, so concurrent logins never leave more than
   * `keep` live sessions. The event that names the ended sessions (none if none were).
   */
  async endLeastRecentlyUsedIn(
    manager: TransactionStatements,
    userId: string,
    newSessionId: string,
    keep: number,
    now: Date,
    reason: string,
  ): Promise<RevocationEvent[]> {
    await lockUserSessions(manager, userId);
    const [rows] = (await manager.query(
      // revoked_at IS NULL again outside: a row revoked meanwhile (a logout the lock did not
      // order) is re-checked against this, and keeps its own reason.
      `UPDATE sessions SET revoked_at = $2, revoked_reason = $4
        WHERE revoked_at IS NULL AND id IN (
          SELECT s.id FROM sessions s
           WHERE s.user_id = $1 AND s.revoked_at IS NULL
             AND s.expires_at > $2 AND s.refresh_expires_at > $2
             AND ${notCutOff('s')}
           -- The login's own session first, whatever another instance's clock wrote elsewhere.
           ORDER BY (s.id = $5) DESC, s.last_used_at DESC, s.created_at DESC, s.id DESC
          OFFSET $3)
        RETURNING id`,
      [userId, now, keep, reason, newSessionId],
    )) as [Array<{ id: string }>, number];
    if (rows.length === 0) return [];
    const events: RevocationEvent[] = [{ kind: 'sessions', ids: rows.map((row) => row.id), revokedAt: now.getTime() }];
    await this.notify(manager, events);
    return events;
  }

  /**
   * Deletes a user (their sessions go with them, ON DELETE CASCADE) and leaves a tombstone, so
   * that instances loading their state later still refuse the user's unexpired access tokens;
   * announces it, all in one transaction. Null when there is no such user.
   */
  async deleteUser(userId: string, also: AlsoIn = nothingElse): Promise<RevocationEvent[] | null> {
    return this.dataSource.transaction(async (manager) => {
      const [deleted] = (await manager.query(`DELETE FROM users WHERE id = $1 RETURNING id`, [userId])) as [
        unknown[],
        number,
      ];
      if (deleted.length === 0) return null;
      const [tombstone] = (await manager.query(
        `INSERT INTO deleted_users (user_id, deleted_at) VALUES ($1, clock_timestamp())
         ON CONFLICT (user_id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at
         RETURNING deleted_at`,
        [userId],
      )) as Array<{ deleted_at: Date }>;
      const events: RevocationEvent[] = [{ kind: 'userDeleted', userId, deletedAt: tombstone.deleted_at.getTime() }];
      await also(manager, events);
      await this.notify(manager, events);
      return events;
    });
  }

  /**
   * Sets a new password hash and revokes every session of the user but `keepSessionId`,
   * announcing them, in one transaction.
   */
  async changePassword(
    userId: string,
    passwordHash: string,
    keepSessionId: string,
    now: Date,
    reason: string,
    also: AlsoIn = nothingElse,
  ): Promise<RevocationEvent[]> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, [
        userId,
        passwordHash,
        now,
      ]);
      // A reset link asked for before the change would undo it.
      await this.runHooks(manager, userId);
      const events = await revokeSessionsExcept(manager, userId, keepSessionId, now, reason);
      await also(manager, events);
      await this.notify(manager, events);
      return events;
    });
  }

  /** Revokes every session of the user but `keepSessionId` ("sign out all other devices"), and announces them. */
  async revokeOtherSessions(
    userId: string,
    keepSessionId: string,
    now: Date,
    reason: string,
    also: AlsoIn = nothingElse,
  ): Promise<RevocationEvent[]> {
    return this.dataSource.transaction(async (manager) => {
      const events = await revokeSessionsExcept(manager, userId, keepSessionId, now, reason);
      await also(manager, events);
      await this.notify(manager, events);
      return events;
    });
  }

  /**
   * Moves the user's cut-off to now (every session signed in before ends) and, with
   * `suspendUntil`, suspends the account until then (never shortened). What other capabilities hold for the
   * user's sessions goes too (USER_CUTOFF_HOOKS: reset links already sent stop working). Null
   * when there is no such user.
   */
  private async cutOffUser(
    manager: EntityManager,
    userId: string,
    suspendUntil: Date | null,
    now: Date,
  ): Promise<UserCutoff | null> {
    // Lock the row first, in a statement of its own: the cut-off below is then read from the
    // clock only once no login holds the row (FOR SHARE) any more. Read before a wait, it could
    // fall before a session that a login opened while this statement waited (a share lock is
    // granted beside another one even while an update waits for both).
    const locked = (await manager.query(`SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`, [userId])) as unknown[];
    if (locked.length === 0) return null;
    const [users] = (await manager.query(
      `UPDATE users u
          SET tokens_valid_after = GREATEST(COALESCE(u.tokens_valid_after, c.at), c.at),
              suspended_until = CASE WHEN $2::timestamptz IS NULL THEN u.suspended_until
                                     ELSE GREATEST(COALESCE(u.suspended_until, $2), $2) END,
              updated_at = $3
         FROM (SELECT date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond' AS at) c
        WHERE u.id = $1
        RETURNING u.tokens_valid_after, u.suspended_until`,
      [userId, suspendUntil, now],
    )) as [Array<{ tokens_valid_after: Date; suspended_until: Date | null }>, number];
    if (users.length === 0) return null;
    await this.runHooks(manager, userId);
    return { tokensValidAfter: users[0].tokens_valid_after, suspendedUntil: users[0].suspended_until };
  }

  private async runHooks(manager: EntityManager, userId: string): Promise<void> {
    for (const hook of this.hooks) await hook(manager, userId);
  }
}

/** The user's turn for ending several of their sessions (userSessionsLock). */
async function lockUserSessions(manager: TransactionStatements, userId: string): Promise<void> {
  await manager.query(`SELECT ${userSessionsLock('$1')}`, [userId]);
}

/** Revokes the user's sessions that are still live, but one; the event that announces them (none if none were). */
async function revokeSessionsExcept(
  manager: EntityManager,
  userId: string,
  keepSessionId: string,
  now: Date,
  reason: string,
): Promise<RevocationEvent[]> {
  await lockUserSessions(manager, userId);
  const [rows] = (await manager.query(
    `UPDATE sessions s SET revoked_at = $3, revoked_reason = $4
      WHERE s.user_id = $1 AND s.id <> $2 AND s.revoked_at IS NULL
        AND ${notCutOff('s')}
      RETURNING s.id`,
    [userId, keepSessionId, now, reason],
  )) as [Array<{ id: string }>, number];
  return rows.length > 0 ? [{ kind: 'sessions', ids: rows.map((row) => row.id), revokedAt: now.getTime() }] : [];
}
