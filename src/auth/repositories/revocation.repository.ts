import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { encodeEvent, REVOCATION_CHANNEL, type RevocationEvent, splitForNotify } from '../revocation-events.js';

export interface RevocationState {
  tokenRevoked: boolean;
  sessionRevokedAt: Date | null;
  sessionExpiresAt: Date;
  tokensValidAfter: Date | null;
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
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    const { rows } = await pool.query<{
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
        `UPDATE sessions SET revoked_at = $3, revoked_reason = $4
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
            AND expires_at > $3 AND refresh_expires_at > $3
          RETURNING id`,
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
   * back), marks all of the user's sessions revoked, and announces the new cut-off, in one
   * transaction. A `validAfter` in the future also suspends the account until then. Null when
   * there is no such user.
   */
  async revokeAllForUser(
    userId: string,
    validAfter: Date,
    now: Date,
    reason: string,
  ): Promise<RevocationEvent[] | null> {
    return this.dataSource.transaction(async (manager) => {
      const [users] = (await manager.query(
        `UPDATE users SET tokens_valid_after = GREATEST(COALESCE(tokens_valid_after, $2), $2), updated_at = $3
          WHERE id = $1 RETURNING tokens_valid_after`,
        [userId, validAfter, now],
      )) as [Array<{ tokens_valid_after: Date }>, number];
      if (users.length === 0) return null;
      const [sessions] = (await manager.query(
        `UPDATE sessions SET revoked_at = $2, revoked_reason = $3
          WHERE user_id = $1 AND revoked_at IS NULL RETURNING id`,
        [userId, now, reason],
      )) as [Array<{ id: string }>, number];
      // The cut-off revokes every earlier token; the sessions also catch a token issued in the very
      // millisecond of the cut-off (iat_ms equal to it), which the cut-off alone lets through.
      const events: RevocationEvent[] = [{ kind: 'user', userId, validAfter: users[0].tokens_valid_after.getTime() }];
      if (sessions.length > 0) {
        events.push({ kind: 'sessions', ids: sessions.map((row) => row.id), revokedAt: now.getTime() });
      }
      await notify(manager, events);
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
  ): Promise<RevocationEvent[]> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, [
        userId,
        passwordHash,
        now,
      ]);
      const [rows] = (await manager.query(
        `UPDATE sessions SET revoked_at = $3, revoked_reason = $4
          WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id`,
        [userId, keepSessionId, now, reason],
      )) as [Array<{ id: string }>, number];
      const events: RevocationEvent[] =
        rows.length > 0 ? [{ kind: 'sessions', ids: rows.map((row) => row.id), revokedAt: now.getTime() }] : [];
      await notify(manager, events);
      return events;
    });
  }

  /**
   * Reads, page by page, everything that can still revoke an access token: denied jtis whose
   * tokens expire after `now`, sessions revoked after `horizon`, cut-offs after `horizon`.
   */
  async loadActive(now: Date, horizon: Date, apply: (event: RevocationEvent) => void, pageSize = 50_000) {
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows: Array<{ jti: string; expires_ms: number }> = await this.dataSource.query(
        `SELECT jti::text AS jti, floor(extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
           FROM revoked_tokens WHERE jti > $1 AND expires_at > $2 ORDER BY jti LIMIT $3`,
        [after, now, pageSize],
      );
      for (const row of rows) apply({ kind: 'token', jti: row.jti, expiresAt: row.expires_ms });
      if (rows.length < pageSize) break;
      after = rows[rows.length - 1].jti;
    }
    const sessions: Array<{ id: string; revoked_ms: number }> = await this.dataSource.query(
      `SELECT id::text AS id, floor(extract(epoch FROM revoked_at) * 1000)::float8 AS revoked_ms
         FROM sessions WHERE revoked_at > $1`,
      [horizon],
    );
    for (const row of sessions) apply({ kind: 'sessions', ids: [row.id], revokedAt: row.revoked_ms });
    const users: Array<{ id: string; valid_after_ms: number }> = await this.dataSource.query(
      `SELECT id::text AS id, floor(extract(epoch FROM tokens_valid_after) * 1000)::float8 AS valid_after_ms
         FROM users WHERE tokens_valid_after > $1`,
      [horizon],
    );
    for (const row of users) apply({ kind: 'user', userId: row.id, validAfter: row.valid_after_ms });
  }
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
