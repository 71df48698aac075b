import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export interface AttemptLimits {
  accountKey: string;
  ip: string;
  now: Date;
  windowStart: Date;
  maxPerAccount: number;
  maxPerIp: number;
}

export type AttemptDecision =
  | { allowed: true }
  /** `unlocksAt`: when the oldest of the failures that fill the limit leaves the window. */
  | { allowed: false; unlocksAt: Date };

/** Failed-login counters in PostgreSQL, so that every instance sees the same counts. */
@Injectable()
export class LoginFailureRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Counts recent failures of the account from this IP and of the IP overall; if both are under
   * their limits, records this attempt as a failure until it succeeds. A transaction-scoped
   * advisory lock on the IP serialises the check and the insert, so that concurrent attempts
   * (on any instance) cannot slip past the limit together.
   */
  async beginAttempt(limits: AttemptLimits): Promise<AttemptDecision> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('login-throttle:' || $1, 0))`, [limits.ip]);
      const [counts]: Array<{ account_times: Date[] | null; ip_times: Date[] | null }> = await manager.query(
        `SELECT
           (SELECT array_agg(failed_at) FROM (
              SELECT failed_at FROM login_failures
               WHERE account_key = $1 AND ip = $2 AND failed_at > $3
               ORDER BY failed_at DESC LIMIT $4) recent) AS account_times,
           (SELECT array_agg(failed_at) FROM (
              SELECT failed_at FROM login_failures
               WHERE ip = $2 AND failed_at > $3
               ORDER BY failed_at DESC LIMIT $5) recent) AS ip_times`,
        [limits.accountKey, limits.ip, limits.windowStart, limits.maxPerAccount, limits.maxPerIp],
      );
      const unlocksAt = [
        limitReachedAt(counts.account_times, limits.maxPerAccount),
        limitReachedAt(counts.ip_times, limits.maxPerIp),
      ].filter((time): time is Date => time !== null);
      if (unlocksAt.length > 0) {
        const windowMs = limits.now.getTime() - limits.windowStart.getTime();
        const latest = Math.max(...unlocksAt.map((time) => time.getTime()));
        return { allowed: false, unlocksAt: new Date(latest + windowMs) };
      }
      await manager.query(`INSERT INTO login_failures (account_key, ip, failed_at) VALUES ($1, $2, $3)`, [
        limits.accountKey,
        limits.ip,
        limits.now,
      ]);
      return { allowed: true };
    });
  }

  /** A successful login: the account's count starts again from zero (over all IPs). */
  async resetAccount(accountKey: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_failures WHERE account_key = $1', [accountKey]);
  }
}

/** Time of the oldest of the `limit` most recent failures (newest first), when the limit is reached. */
function limitReachedAt(newestFirst: Date[] | null, limit: number): Date | null {
  if (!newestFirst || newestFirst.length < limit) return null;
  return new Date(newestFirst[limit - 1]);
}
