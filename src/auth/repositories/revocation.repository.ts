import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

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

  /** Everything that can revoke an access token, in one round trip. Null when the session is gone. */
  async findState(jti: string, sessionId: string, userId: string): Promise<RevocationState | null> {
    const rows: Array<{
      token_revoked: boolean;
      revoked_at: Date | null;
      expires_at: Date;
      tokens_valid_after: Date | null;
    }> = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = $1) AS token_revoked,
              s.revoked_at, s.expires_at, u.tokens_valid_after
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.id = $2 AND s.user_id = $3`,
      [jti, sessionId, userId],
    );
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
   * given, puts the presenting access token on the denylist, in one transaction. False when there
   * is no such active session of that user.
   */
  async revokeSession(
    userId: string,
    sessionId: string,
    now: Date,
    reason: string,
    token?: RevokedTokenRecord,
  ): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [rows] = (await manager.query(
        `UPDATE sessions SET revoked_at = $3, revoked_reason = $4
          WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
            AND expires_at > $3 AND refresh_expires_at > $3
          RETURNING id`,
        [sessionId, userId, now, reason],
      )) as [unknown[], number];
      if (token) {
        await manager.query(
          `INSERT INTO revoked_tokens (jti, user_id, expires_at, revoked_at, reason)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (jti) DO NOTHING`,
          [token.jti, userId, token.expiresAt, now, reason],
        );
      }
      return rows.length === 1;
    });
  }

  /**
   * Revokes every token of a user with one row update of users.tokens_valid_after (never moved
   * back), and marks all of the user's sessions revoked, in one transaction. A `validAfter` in the
   * future also suspends the account until then (login refuses while it is ahead of the clock).
   */
  async revokeAllForUser(userId: string, validAfter: Date, now: Date, reason: string): Promise<boolean> {
    return this.dataSource.transaction(async (manager) => {
      const [users] = (await manager.query(
        `UPDATE users SET tokens_valid_after = GREATEST(COALESCE(tokens_valid_after, $2), $2), updated_at = $3
          WHERE id = $1 RETURNING id`,
        [userId, validAfter, now],
      )) as [unknown[], number];
      if (users.length === 0) return false;
      await manager.query(
        `UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE user_id = $1 AND revoked_at IS NULL`,
        [userId, now, reason],
      );
      return true;
    });
  }

  /**
   * Sets a new password hash and revokes every session of the user but `keepSessionId`, in one
   * transaction.
   */
  async changePassword(userId: string, passwordHash: string, keepSessionId: string, now: Date, reason: string) {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(`UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1`, [
        userId,
        passwordHash,
        now,
      ]);
      await manager.query(
        `UPDATE sessions SET revoked_at = $3, revoked_reason = $4
          WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`,
        [userId, keepSessionId, now, reason],
      );
    });
  }
}
