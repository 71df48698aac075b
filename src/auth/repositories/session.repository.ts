import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { SessionEntity } from '../entities/session.entity.js';

/**
 * SQL condition: the session aliased `alias` is not ended by its user's `tokens_valid_after`
 * (logout-all, ban): its current refresh token was issued at or after the cut-off. Logout-all
 * does not rewrite session rows, so every query that asks whether a session is still in use
 * applies this one definition.
 */
export function notCutOff(alias: string): string {
  return `NOT EXISTS (SELECT 1 FROM users cut WHERE cut.id = ${alias}.user_id
            AND cut.tokens_valid_after > COALESCE(${alias}.refresh_rotated_at, ${alias}.created_at))`;
}

export interface NewSession {
  id: string;
  userId: string;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: Date;
  expiresAt: Date;
  refreshTokenHash: string;
  refreshExpiresAt: Date;
}

export interface RefreshRotation {
  sessionId: string;
  userId: string;
  presentedHash: string;
  /** Issue time of the presented token, compared with the user's tokens_valid_after. */
  presentedIssuedAt: Date;
  newHash: string;
  newRefreshExpiresAt: Date;
  now: Date;
}

export interface SessionWithUserCutoff {
  session: SessionEntity;
  tokensValidAfter: Date | null;
}

@Injectable()
export class SessionRepository {
  constructor(@InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>) {}

  async insert(session: NewSession): Promise<void> {
    await this.sessions.insert({ ...session, lastUsedAt: session.createdAt });
  }

  /**
   * Swaps the current refresh token for a new one in a single conditional UPDATE, so that of N
   * concurrent refreshes with one token exactly one wins. False when the presented token is not
   * current, or the session or user no longer allows it.
   */
  async rotateRefreshToken(rotation: RefreshRotation): Promise<boolean> {
    const result = await this.sessions.query(
      `UPDATE sessions s
          SET previous_refresh_token_hash = s.refresh_token_hash,
              refresh_token_hash = $4,
              refresh_rotated_at = $6,
              refresh_expires_at = $5,
              last_used_at = $6
        WHERE s.id = $1 AND s.user_id = $2 AND s.refresh_token_hash = $3
          AND s.revoked_at IS NULL AND s.expires_at > $6 AND s.refresh_expires_at > $6
          AND NOT EXISTS (SELECT 1 FROM users u
                           WHERE u.id = s.user_id AND u.tokens_valid_after > $7)
        RETURNING s.id`,
      [
        rotation.sessionId,
        rotation.userId,
        rotation.presentedHash,
        rotation.newHash,
        rotation.newRefreshExpiresAt,
        rotation.now,
        rotation.presentedIssuedAt,
      ],
    );
    return (result as unknown[][])[0].length === 1;
  }

  /**
   * The user's sessions that can still be used: not revoked (one by one, or by the user's cut-off,
   * which a logout-all or a ban moves), not past their end, not idle too long.
   */
  listActive(userId: string, now: Date): Promise<SessionEntity[]> {
    return this.sessions
      .createQueryBuilder('session')
      .where('session.userId = :userId', { userId })
      .andWhere('session.revokedAt IS NULL')
      .andWhere('session.expiresAt > :now AND session.refreshExpiresAt > :now', { now })
      .andWhere(notCutOff('session'))
      .orderBy('session.lastUsedAt', 'DESC')
      .addOrderBy('session.createdAt', 'DESC')
      .getMany();
  }

  /**
   * Moves last_used_at to `now` unless it was written less than `minIntervalMs` before; returns the
   * value stored afterwards (null when the session is gone), in one round trip.
   */
  async touch(sessionId: string, now: Date, minIntervalMs: number): Promise<Date | null> {
    const rows: Array<{ last_used_at: Date | null }> = await this.sessions.query(
      `WITH touched AS (
         UPDATE sessions SET last_used_at = $2
          WHERE id = $1 AND revoked_at IS NULL AND last_used_at <= $3
          RETURNING last_used_at)
       SELECT COALESCE((SELECT last_used_at FROM touched),
                       (SELECT last_used_at FROM sessions WHERE id = $1)) AS last_used_at`,
      [sessionId, now, new Date(now.getTime() - minIntervalMs)],
    );
    return rows[0]?.last_used_at ?? null;
  }

  async findWithUserCutoff(sessionId: string): Promise<SessionWithUserCutoff | null> {
    const session = await this.sessions
      .createQueryBuilder('session')
      .innerJoinAndSelect('session.user', 'user')
      .where('session.id = :sessionId', { sessionId })
      .getOne();
    if (!session?.user) return null;
    const tokensValidAfter = session.user.tokensValidAfter;
    delete session.user;
    return { session, tokensValidAfter };
  }
}
