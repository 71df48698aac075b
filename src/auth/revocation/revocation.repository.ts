import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { notCutOff } from '../sessions/session.repository.js';
import { TOKEN_PAGE_RECORD_LENGTH } from './revocation-store.js';
import {
  encodeEvent,
  REVOCATION_CHANNEL,
  type RevocationEvent,
  type RevocationHint,
  splitForNotify,
} from './revocation-events.js';

export interface RevocationState {
  tokenRevoked: boolean;
  sessionRevokedAt: Date | null;
  sessionExpiresAt: Date;
  tokensValidAfter: Date | null;
}

export interface UserCutoff {
  tokensValidAfter: Date;
  suspendedUntil: Date | null;
}

/** Receives the revocation state as loadActive reads it. */
export interface RevocationLoadTarget {
  apply(event: RevocationEvent): void;
  /** Denied tokens, a page at a time, in the format of TOKEN_PAGE_RECORD_LENGTH (RevocationStore.applyTokenPage). */
  applyTokenPage(page: string): void;
}

/** The jti (UUID text) of the `index`-th record of a token page. */
function uuidOfRecord(page: string, index: number): string {
  const hex = page.slice(index * TOKEN_PAGE_RECORD_LENGTH, index * TOKEN_PAGE_RECORD_LENGTH + 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export interface RevokedTokenRecord {
  jti: string;
  expiresAt: Date;
}

/** Reads and writes of revocation state: the denylist, session revocation, users' cut-off. */
@Injectable()
export class RevocationRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Everything that can revoke an access token, in one round trip: the strict check of every
   * request on strict routes. Null when the session is gone. Runs as a named (prepared) statement
   * straight on the driver's pool, without TypeORM's per-query runner.
   */
  async findState(jti: string, sessionId: string, userId: string): Promise<RevocationState | null> {
    const { rows } = await this.pool().query<{
      token_revoked: boolean;
      revoked_at: Date | null;
      expires_at: Date;
      tokens_valid_after: Date | null;
    }>({
      name: 'auth_revocation_state',
      text: `SELECT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = $1) AS token_revoked,
                    s.revoked_at, s.expires_at, u.tokens_valid_after
               FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id = $2 AND s.user_id = $3`,
      values: [jti, sessionId, userId],
    });
    if (rows.length === 0) return null;
    const [row] = rows;
    return {
      tokenRevoked: row.token_revoked,
      sessionRevokedAt: row.revoked_at,
      sessionExpiresAt: row.expires_at,
      tokensValidAfter: row.tokens_valid_after,
    };
  }

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
      await notify(manager, events);
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
  ): Promise<{ events: RevocationEvent[]; cutoff: UserCutoff } | null> {
    return this.dataSource.transaction(async (manager) => {
      const cutoff = await cutOffUser(manager, userId, suspendUntil, now);
      if (!cutoff) return null;
      const events: RevocationEvent[] = [{ kind: 'user', userId, validAfter: cutoff.tokensValidAfter.getTime() }];
      await notify(manager, events);
      return { events, cutoff };
    });
  }

  /**
   * A password reset by mail, in one transaction: the token is used up (two requests with the same
   * token: one wins), the password replaced, every session of the user ended by the cut-off (as
   * logout-all), the address marked verified (the mail reached its owner), and the cut-off
   * announced. A suspension stays. Null when the token is not (or no longer) valid.
   */
  async resetPassword(
    tokenHash: string,
    passwordHash: string,
    now: Date,
  ): Promise<{ userId: string; events: RevocationEvent[] } | null> {
    return this.dataSource.transaction(async (manager) => {
      const [used] = (await manager.query(
        `DELETE FROM account_tokens
          WHERE token_hash = $1 AND purpose = 'password_reset' AND expires_at > $2
          RETURNING user_id::text AS "userId"`,
        [tokenHash, now],
      )) as [Array<{ userId: string }>, number];
      if (used.length === 0) return null;
      const { userId } = used[0];
      const cutoff = await cutOffUser(manager, userId, null, now);
      if (!cutoff) return null;
      await manager.query(
        `UPDATE users SET password_hash = $2, email_verified_at = COALESCE(email_verified_at, $3), updated_at = $3
          WHERE id = $1`,
        [userId, passwordHash, now],
      );
      const events: RevocationEvent[] = [{ kind: 'user', userId, validAfter: cutoff.tokensValidAfter.getTime() }];
      await notify(manager, events);
      return { userId, events };
    });
  }

  /**
   * Deletes a user (their sessions go with them, ON DELETE CASCADE) and leaves a tombstone, so
   * that instances loading their state later still refuse the user's unexpired access tokens;
   * announces it, all in one transaction. Null when there is no such user.
   */
  async deleteUser(userId: string): Promise<RevocationEvent[] | null> {
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
      await notify(manager, events);
      return events;
    });
  }

  /**
   * What the database says about what a notification names: the committed revocations only,
   * whatever the payload claimed. Empty when nothing there is revoked.
   */
  async confirm(hint: Exclude<RevocationHint, { kind: 'heartbeat' | 'keys' }>): Promise<RevocationEvent[]> {
    const pool = this.pool();
    switch (hint.kind) {
      case 'token': {
        const { rows } = await pool.query<[string, number]>({
          text: `SELECT jti::text, floor(extract(epoch FROM expires_at) * 1000)::float8 FROM revoked_tokens WHERE jti = $1`,
          values: [hint.jti],
          rowMode: 'array',
        });
        return rows.map(([jti, expiresAt]) => ({ kind: 'token', jti, expiresAt }));
      }
      case 'sessions': {
        const { rows } = await pool.query<[string, number]>({
          text: `SELECT id::text, floor(extract(epoch FROM revoked_at) * 1000)::float8
                   FROM sessions WHERE id = ANY($1::uuid[]) AND revoked_at IS NOT NULL`,
          values: [hint.ids],
          rowMode: 'array',
        });
        return rows.map(([id, revokedAt]) => ({ kind: 'sessions', ids: [id], revokedAt }));
      }
      case 'user': {
        const { rows } = await pool.query<[number]>({
          text: `SELECT floor(extract(epoch FROM tokens_valid_after) * 1000)::float8
                   FROM users WHERE id = $1 AND tokens_valid_after IS NOT NULL`,
          values: [hint.userId],
          rowMode: 'array',
        });
        return rows.map(([validAfter]) => ({ kind: 'user', userId: hint.userId, validAfter }));
      }
      case 'userDeleted': {
        const { rows } = await pool.query<[number]>({
          text: `SELECT floor(extract(epoch FROM deleted_at) * 1000)::float8 FROM deleted_users WHERE user_id = $1`,
          values: [hint.userId],
          rowMode: 'array',
        });
        return rows.map(([deletedAt]) => ({ kind: 'userDeleted', userId: hint.userId, deletedAt }));
      }
    }
  }

  /** One NOTIFY on the revocation channel through the pool (the listener's heartbeat). */
  async notifyThroughPool(payload: string): Promise<void> {
    await this.pool().query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, payload]);
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
  ): Promise<RevocationEvent[]> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, [
        userId,
        passwordHash,
        now,
      ]);
      // A reset link asked for before the change would undo it.
      await dropResetLinks(manager, userId);
      const events = await revokeSessionsExcept(manager, userId, keepSessionId, now, reason);
      await notify(manager, events);
      return events;
    });
  }

  /** Revokes every session of the user but `keepSessionId` ("sign out all other devices"), and announces them. */
  async revokeOtherSessions(
    userId: string,
    keepSessionId: string,
    now: Date,
    reason: string,
  ): Promise<RevocationEvent[]> {
    return this.dataSource.transaction(async (manager) => {
      const events = await revokeSessionsExcept(manager, userId, keepSessionId, now, reason);
      await notify(manager, events);
      return events;
    });
  }

  /**
   * Reads everything that can still revoke an access token: denied jtis whose tokens expire after
   * `now`, sessions revoked after `horizon`, cut-offs and deletions after `horizon`, all in one
   * snapshot (REPEATABLE READ). The denylist may hold millions of rows: it is read in pages of
   * `pageSize` in primary-key order (keyset pagination, an index range scan per page whatever the
   * statistics say), each page as ONE string of fixed-width records (TOKEN_PAGE_RECORD_LENGTH hex
   * characters: the jti's 16 bytes and the expiry minute). A row per object would leave a million
   * short-lived arrays and strings behind, and the process would keep the memory they took.
   */
  async loadActive(now: Date, horizon: Date, target: RevocationLoadTarget, pageSize = 10_000): Promise<void> {
    const client = await this.pool().connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // A load that cannot finish (a lock held by a migration, a starved server) must fail, so that
      // the instance tries again, rather than hang with every check going to the database.
      await client.query(
        "SET LOCAL statement_timeout = '60s'; SET LOCAL lock_timeout = '10s'; " +
          'SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off',
      );
      const record = `encode(uuid_send(jti), 'hex') || lpad(to_hex(ceil(extract(epoch FROM expires_at) / 60)::int), 8, '0')`;
      let last: string | null = null;
      for (;;) {
        const { rows } = await client.query<{ page: string | null; n: number }>(
          `SELECT string_agg(${record}, '' ORDER BY jti) AS page, count(*)::int AS n
             FROM (SELECT jti, expires_at FROM revoked_tokens
                    WHERE expires_at > $1 ${last === null ? '' : 'AND jti > $3::uuid'}
                    ORDER BY jti LIMIT $2) page`,
          last === null ? [now, pageSize] : [now, pageSize, last],
        );
        const [{ page, n }] = rows;
        if (page) target.applyTokenPage(page);
        if (!page || n < pageSize) break;
        last = uuidOfRecord(page, n - 1);
      }
      // The small reads below choose their own plans.
      await client.query('RESET enable_seqscan; RESET enable_bitmapscan; RESET enable_sort');
      const sessions = await client.query<[string, number]>({
        text: `SELECT id::text, floor(extract(epoch FROM revoked_at) * 1000)::float8 FROM sessions WHERE revoked_at > $1`,
        values: [horizon],
        rowMode: 'array',
      });
      for (const [id, revokedAt] of sessions.rows) target.apply({ kind: 'sessions', ids: [id], revokedAt });
      const users = await client.query<[string, number]>({
        text: `SELECT id::text, floor(extract(epoch FROM tokens_valid_after) * 1000)::float8
                 FROM users WHERE tokens_valid_after > $1`,
        values: [horizon],
        rowMode: 'array',
      });
      for (const [userId, validAfter] of users.rows) target.apply({ kind: 'user', userId, validAfter });
      const deleted = await client.query<[string, number]>({
        text: `SELECT user_id::text, floor(extract(epoch FROM deleted_at) * 1000)::float8
                 FROM deleted_users WHERE deleted_at > $1`,
        values: [horizon],
        rowMode: 'array',
      });
      for (const [userId, deletedAt] of deleted.rows) target.apply({ kind: 'userDeleted', userId, deletedAt });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** The driver's pg pool, for the statements on the hot path and the bulk load. */
  private pool(): pg.Pool {
    return (this.dataSource.driver as unknown as { master: pg.Pool }).master;
  }
}

/** Revokes the user's sessions that are still live, but one; the event that announces them (none if none were). */
async function revokeSessionsExcept(
  manager: EntityManager,
  userId: string,
  keepSessionId: string,
  now: Date,
  reason: string,
): Promise<RevocationEvent[]> {
  const [rows] = (await manager.query(
    `UPDATE sessions s SET revoked_at = $3, revoked_reason = $4
      WHERE s.user_id = $1 AND s.id <> $2 AND s.revoked_at IS NULL
        AND ${notCutOff('s')}
      RETURNING s.id`,
    [userId, keepSessionId, now, reason],
  )) as [Array<{ id: string }>, number];
  return rows.length > 0 ? [{ kind: 'sessions', ids: rows.map((row) => row.id), revokedAt: now.getTime() }] : [];
}

/**
 * Moves the user's cut-off to now (every session signed in before ends) and, with
 * `suspendUntil`, suspends the account until then (never shortened). Reset links already sent
 * stop working: whoever asked for one (the user, or someone in their mailbox) asks again. Null
 * when there is no such user.
 */
async function cutOffUser(
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
  await dropResetLinks(manager, userId);
  return { tokensValidAfter: users[0].tokens_valid_after, suspendedUntil: users[0].suspended_until };
}

/** Password-reset links of the user that are still out (their tokens, and their unsent mails) stop working. */
async function dropResetLinks(manager: EntityManager, userId: string): Promise<void> {
  await manager.query(`DELETE FROM account_tokens WHERE user_id = $1 AND purpose = 'password_reset'`, [userId]);
  await manager.query(`DELETE FROM mail_outbox WHERE user_id = $1 AND purpose = 'password_reset'`, [userId]);
}

/** NOTIFY inside the revoking transaction (delivered on commit, never on rollback), in one statement. */
async function notify(manager: EntityManager, events: RevocationEvent[]): Promise<void> {
  if (events.length === 0) return;
  const payloads = events.flatMap(splitForNotify).map(encodeEvent);
  await manager.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [
    REVOCATION_CHANNEL,
    payloads,
  ]);
}
