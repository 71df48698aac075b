import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import type { DataSource, Repository } from 'typeorm';
import {
  driverPool,
  driverStatements,
  inDriverTransaction,
  type TransactionStatements,
} from '../common/driver-pool.js';
import { userSessionsLock } from '../revocation/user-sessions-lock.js';
import { insertEventsSql } from '../security-events/auth-event.repository.js';
import { newDeviceSql } from '../new-device-alerts/new-device-alert.repository.js';
import { SessionEntity } from './session.entity.js';

/**
 * SQL condition: the session aliased `alias` is not ended by its user's `tokens_valid_after`
 * (logout-all, ban): it was signed in at or after the cut-off (both on the database's clock; a
 * refresh never moves a session's sign-in time). Logout-all does not rewrite session rows, so
 * every query that asks whether a session is still in use applies this one definition.
 */
export function notCutOff(alias: string): string {
  return `NOT EXISTS (SELECT 1 FROM users cut WHERE cut.id = ${alias}.user_id
            AND cut.tokens_valid_after > ${alias}.created_at)`;
}

/**
 * notCutOff for rows that are all one user's (`userIdParameter`, e.g. `$2`): the same condition,
 * with the user's cut-off read once for the statement rather than once per row (a missing user,
 * like a user without a cut-off, cuts nothing off).
 */
export function notCutOffForUser(alias: string, userIdParameter: string): string {
  return `${alias}.created_at >= COALESCE((SELECT cut.tokens_valid_after FROM users cut WHERE cut.id = ${userIdParameter}),
            '-infinity')`;
}

/** A session about to be opened; its sign-in time comes from the database when it is written. */
export interface SessionRequest {
  id: string;
  userId: string;
  /**
   * The password hash the presented password was verified against; null for a sign-in without a
   * password (a passkey), which the row's password does not concern.
   */
  verifiedPasswordHash: string | null;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  /** The module's clock, for last_used_at. */
  now: Date;
  expiresAt: Date;
  /** The login's failures from this client, cleared when the session is written (LoginAttempt.failures). */
  clearFailures?: { accountKey: string; ip: string };
  /** How the user signed in (RFC 8176), kept on the session for its tokens' `amr`. */
  amr: readonly string[];
  /**
   * The sign-in's security events (eventRows' JSON; `[]` for none), written by the statement that
   * writes the session: both or neither.
   */
  events: string;
  /**
   * The start of the new-device lookback (NewDeviceAlertsService.lookbackFrom), or null: not
   * compared. The statement that writes the session then says whether its device is new.
   */
  newDeviceSince: Date | null;
}

/** What the session's user is, as the transaction that opens the session read it. */
export interface SigningInUser {
  /** The database's clock: the session's sign-in time, the clock of every cut-off. */
  signedInAt: Date;
  suspendedUntil: Date | null;
  /** The user has a second factor turned on (an authenticator app). */
  hasSecondFactor: boolean;
  /** The user's roles, for the tokens' `roles`. */
  roles: string[];
}

/** What the caller signs once the sign-in time is known: the refresh token goes into the row. */
export interface SignedSession<T> {
  refreshTokenHash: string;
  refreshExpiresAt: Date;
  value: T;
}

export interface RefreshRotation {
  sessionId: string;
  userId: string;
  presentedHash: string;
  newHash: string;
  newRefreshExpiresAt: Date;
  now: Date;
  /**
   * The session as the new tokens were signed for it (sign-in time and absolute end, and the last
   * authentication's time in seconds and methods, from the presented token's claims, before any
   * read): the row must match all of them, or nothing is rotated.
   */
  signedFor?: {
    createdAt: Date;
    expiresAt: Date;
    authTime: number;
    amr: readonly string[];
    /** The roles the new tokens carry: the user's must still be these. */
    roles: readonly string[];
  };
}

export interface SessionWithUserCutoff {
  session: SessionEntity;
  tokensValidAfter: Date | null;
  /** The user's roles now. */
  roles: string[];
}

@Injectable()
export class SessionRepository {
  constructor(
    @InjectRepository(SessionEntity) private readonly sessions: Repository<SessionEntity>,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /**
   * Opens a session for a password just verified, in one transaction of four round trips (on the
   * driver's pool, without TypeORM's per-query runner): the
   * user's row is locked (FOR SHARE) only if it still has that very password hash, so a password
   * change, a deletion or a cut-off committed meanwhile either happens before (no row: null) or
   * waits for this session to exist and then ends it. The sign-in time is the database's clock,
   * the clock of every cut-off. `sign` gets it and the user's suspension, and may throw (then
   * nothing is written); it is also told whether the user has a second factor, read in the same
   * statement, so that a factor turned on meanwhile is not skipped. The session is written (with
   * the authentication's time and methods), the login's failures cleared and the user's
   * live sessions counted in one statement, under the user's turn for the session cap
   * (userSessionsLock), taken after the row lock; `overCap` runs in the same transaction when
   * there are more than `maxLive` with this one (the cap ends the least recently used). The
   * same statement writes the sign-in's security events, and (with `newDeviceSince`) says whether
   * the device is new for the user; `onNewDevice` then runs in the transaction (the alert).
   */
  async openWithVerifiedPassword<T>(
    request: SessionRequest,
    sign: (user: SigningInUser) => SignedSession<T>,
    cap?: { maxLive: number; overCap: (transaction: TransactionStatements) => Promise<void> },
    onNewDevice?: (transaction: TransactionStatements) => Promise<void>,
  ): Promise<T | null> {
    return inDriverTransaction(this.dataSource, async (client) => {
      const {
        rows: [user],
      } = await client.query<{
        signed_in_at: Date;
        suspended_until: Date | null;
        second_factor: boolean;
        roles: string[];
      }>(
        `WITH account AS MATERIALIZED (
           SELECT date_trunc('milliseconds', clock_timestamp()) AS signed_in_at, suspended_until, roles
             FROM users WHERE id = $1 AND ($2::text IS NULL OR password_hash = $2) FOR SHARE)
         SELECT signed_in_at, suspended_until, roles, ${userSessionsLock('$1')},
                EXISTS (SELECT 1 FROM mfa_totp t WHERE t.user_id = $1 AND t.enabled_at IS NOT NULL) AS second_factor
           FROM account`,
        [request.userId, request.verifiedPasswordHash],
      );
      if (!user) return null;
      const signed = sign({
        signedInAt: user.signed_in_at,
        suspendedUntil: user.suspended_until,
        hasSecondFactor: user.second_factor,
        roles: user.roles,
      });
      const {
        rows: [{ live, new_device: newDevice }],
      } = await client.query<{ live: number; new_device: boolean }>(
        `WITH opened AS (
           INSERT INTO sessions (id, user_id, device_name, user_agent, ip, created_at, last_used_at, expires_at,
                                 refresh_token_hash, refresh_expires_at, authenticated_at, amr)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $7, $13)),
         cleared AS (DELETE FROM login_failures WHERE account_key = $11 AND ip = $12),
         recorded AS (${insertEventsSql('$14')})
         -- The session just written is not seen here (one statement): it is the one more.
         SELECT count(*)::int + 1 AS live,
                ${request.newDeviceSince ? newDeviceSql({ user: '$2', device: '$3', ip: '$5', since: '$15' }) : 'false'} AS new_device
           FROM sessions s
          WHERE s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $7 AND s.refresh_expires_at > $7
            AND ${notCutOffForUser('s', '$2')}`,
        [
          request.id,
          request.userId,
          request.deviceName,
          request.userAgent,
          request.ip,
          user.signed_in_at,
          request.now,
          request.expiresAt,
          signed.refreshTokenHash,
          signed.refreshExpiresAt,
          request.clearFailures?.accountKey ?? null,
          request.clearFailures?.ip ?? null,
          request.amr,
          request.events,
          ...(request.newDeviceSince ? [request.newDeviceSince] : []),
        ],
      );
      if (cap && live > cap.maxLive) await cap.overCap(driverStatements(client));
      if (newDevice && onNewDevice) await onNewDevice(driverStatements(client));
      return signed.value;
    });
  }

  /**
   * Swaps the current refresh token for a new one in a single conditional UPDATE, so that of N
   * concurrent refreshes with one token exactly one wins. False when the presented token is not
   * current, or the session or user no longer allows it, or (with `signedFor`) the session is not
   * the one the new tokens were signed for. One round trip on the driver's pool: this is the
   * whole database cost of a refresh.
   */
  async rotateRefreshToken(rotation: RefreshRotation): Promise<boolean> {
    const params: unknown[] = [
      rotation.sessionId,
      rotation.userId,
      rotation.presentedHash,
      rotation.newHash,
      rotation.newRefreshExpiresAt,
      rotation.now,
    ];
    let signedFor = '';
    if (rotation.signedFor) {
      const { createdAt, expiresAt, authTime, amr, roles } = rotation.signedFor;
      params.push(createdAt, expiresAt, authTime, amr, roles);
      // To the millisecond, as tokens carry them (a row written by hand may hold microseconds);
      // the last authentication to the second, as auth_time is (rows from before 0.4 hold none:
      // their sign-in, with a password).
      signedFor = `AND date_trunc('milliseconds', s.created_at) = $7 AND date_trunc('milliseconds', s.expires_at) = $8
        AND floor(extract(epoch FROM COALESCE(s.authenticated_at, s.created_at)))::bigint = $9
        AND COALESCE(s.amr, '{pwd}') = $10::text[]
        AND (SELECT u.roles FROM users u WHERE u.id = s.user_id) = $11::text[]`;
    }
    const result = await driverPool(this.dataSource).query(
      `UPDATE sessions s
          SET previous_refresh_token_hash = s.refresh_token_hash,
              refresh_token_hash = $4,
              refresh_rotated_at = $6,
              refresh_expires_at = $5,
              last_used_at = $6
        WHERE s.id = $1 AND s.user_id = $2 AND s.refresh_token_hash = $3
          AND s.revoked_at IS NULL AND s.expires_at > $6 AND s.refresh_expires_at > $6
          AND ${notCutOff('s')} ${signedFor}`,
      params,
    );
    return result.rowCount === 1;
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

  /**
   * Records a re-authentication on a session still in use: its time (the module's clock) and the
   * methods now shown in it. The session's sign-in time and end, for the new tokens; null when the
   * session has ended (revoked, expired, cut off).
   */
  async reauthenticated(
    sessionId: string,
    userId: string,
    now: Date,
    amr: readonly string[],
  ): Promise<{ createdAt: Date; expiresAt: Date } | null> {
    const { rows } = await driverPool(this.dataSource).query<{ created_at: Date; expires_at: Date }>(
      `UPDATE sessions s SET authenticated_at = $3, amr = $4
        WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3
          AND s.refresh_expires_at > $3 AND ${notCutOff('s')}
        RETURNING date_trunc('milliseconds', s.created_at) AS created_at, s.expires_at`,
      [sessionId, userId, now, amr],
    );
    return rows[0] ? { createdAt: rows[0].created_at, expiresAt: rows[0].expires_at } : null;
  }

  /** The methods a session has been authenticated with so far (PASSWORD_ONLY for sessions from before 0.4). */
  async methodsOf(sessionId: string): Promise<string[] | null> {
    const { rows } = await driverPool(this.dataSource).query<{ amr: string[] }>(
      `SELECT COALESCE(amr, '{pwd}') AS amr FROM sessions WHERE id = $1`,
      [sessionId],
    );
    return rows[0]?.amr ?? null;
  }

  async findWithUserCutoff(sessionId: string): Promise<SessionWithUserCutoff | null> {
    const session = await this.sessions
      .createQueryBuilder('session')
      .innerJoinAndSelect('session.user', 'user')
      .where('session.id = :sessionId', { sessionId })
      .getOne();
    if (!session?.user) return null;
    const { tokensValidAfter, roles } = session.user;
    delete session.user;
    return { session, tokensValidAfter, roles };
  }
}
