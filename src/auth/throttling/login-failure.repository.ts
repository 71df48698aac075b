import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export interface AttemptLimits {
  accountKey: string;
  /** The client's throttling key (an IPv4 address, or an IPv6 /64). */
  ip: string;
  now: Date;
  windowStart: Date;
  /** Failures of the account from this client. */
  maxPerAccount: number;
  /** Failures from this client over all accounts. */
  maxPerIp: number;
  /** Failures of the account over all clients. */
  maxPerAccountOverall: number;
}

/** Which limit is full: the account from this client, the client overall, the account overall. */
export type ThrottleLimit = 'account_ip' | 'ip' | 'account';

export type AttemptDecision =
  | { allowed: true }
  /** `unlocksAt`: when the oldest of the failures that fill the limit leaves the window. */
  | { allowed: false; unlocksAt: Date; limit: ThrottleLimit };

/** Failed-login counters in PostgreSQL, so that every instance sees the same counts. */
@Injectable()
export class LoginFailureRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Counts recent failures of the account from this IP, of the IP overall and of the account
   * overall; if all are under their limits, records this attempt as a failure until it succeeds.
   * Transaction-scoped advisory locks on the IP, then on the account (always in that order, so
   * that two attempts never wait on each other in a cycle) serialise the check and the insert:
   * concurrent attempts, on any instance, cannot slip past a limit together.
   */
  async beginAttempt(limits: AttemptLimits): Promise<AttemptDecision> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('login-throttle:' || $1, 0))`, [limits.ip]);
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('login-throttle-account:' || $1, 0))`, [
        limits.accountKey,
      ]);
      const [counts]: Array<{
        account_times: Date[] | null;
        ip_times: Date[] | null;
        account_all_times: Date[] | null;
      }> = await manager.query(
        `SELECT
           (SELECT array_agg(failed_at) FROM (
              SELECT failed_at FROM login_failures
               WHERE account_key = $1 AND ip = $2 AND failed_at > $3
               ORDER BY failed_at DESC LIMIT $4) recent) AS account_times,
           (SELECT array_agg(failed_at) FROM (
              SELECT failed_at FROM login_failures
               WHERE ip = $2 AND failed_at > $3
               ORDER BY failed_at DESC LIMIT $5) recent) AS ip_times,
           (SELECT array_agg(failed_at) FROM (
              SELECT failed_at FROM login_failures
               WHERE account_key = $1 AND failed_at > $3
               ORDER BY failed_at DESC LIMIT $6) recent) AS account_all_times`,
        [
          limits.accountKey,
          limits.ip,
          limits.windowStart,
          limits.maxPerAccount,
          limits.maxPerIp,
          limits.maxPerAccountOverall,
        ],
      );
      const full = (
        [
          ['account_ip', limitReachedAt(counts.account_times, limits.maxPerAccount)],
          ['ip', limitReachedAt(counts.ip_times, limits.maxPerIp)],
          ['account', limitReachedAt(counts.account_all_times, limits.maxPerAccountOverall)],
        ] as Array<[ThrottleLimit, Date | null]>
      ).filter((entry): entry is [ThrottleLimit, Date] => entry[1] !== null);
      if (full.length > 0) {
        const windowMs = limits.now.getTime() - limits.windowStart.getTime();
        // The client waits for the limit that frees last.
        const [limit, reachedAt] = full.reduce((a, b) => (b[1] > a[1] ? b : a));
        return { allowed: false, unlocksAt: new Date(reachedAt.getTime() + windowMs), limit };
      }
      await manager.query(`INSERT INTO login_failures (account_key, ip, failed_at) VALUES ($1, $2, $3)`, [
        limits.accountKey,
        limits.ip,
        limits.now,
      ]);
      return { allowed: true };
    });
  }

  /**
   * A successful login: the account's failures from this client start again from zero. Failures
   * from other clients still count toward the per-account cap: a success here says nothing about
   * them, and clearing them would hand a distributed guesser a fresh allowance each time the real
   * user signs in.
   */
  async resetAccount(accountKey: string, ip: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_failures WHERE account_key = $1 AND ip = $2', [accountKey, ip]);
  }
}

/** Time of the oldest of the `limit` most recent events (newest first), when the limit is reached. */
export function limitReachedAt(newestFirst: Date[] | null, limit: number): Date | null {
  if (!newestFirst || newestFirst.length < limit) return null;
  return new Date(newestFirst[limit - 1]);
}
