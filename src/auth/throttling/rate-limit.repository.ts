import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { limitReachedAt } from './login-failure.repository.js';

export interface RateLimitHit {
  /** Which limit (e.g. `register`). */
  scope: string;
  /** Whom it counts (a client's throttling key). */
  key: string;
  now: Date;
  windowSeconds: number;
  max: number;
}

export type RateLimitDecision = { allowed: true } | { allowed: false; unlocksAt: Date };

/** Sliding-window counters in PostgreSQL (table rate_limit_hits), shared by every instance. */
@Injectable()
export class RateLimitRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Counts the hits of (scope, key) within the window; under the limit, records this one and runs
   * `andThen` in the same transaction. An
   * advisory lock on (scope, key) makes check and insert one step across instances.
   */
  async hit(hit: RateLimitHit, andThen?: (manager: EntityManager) => Promise<void>): Promise<RateLimitDecision> {
    const windowStart = new Date(hit.now.getTime() - hit.windowSeconds * 1000);
    return this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('rate-limit:' || $1 || ':' || $2, 0))`, [
        hit.scope,
        hit.key,
      ]);
      const [row] = (await manager.query(
        `SELECT array_agg(hit_at) AS times FROM (
           SELECT hit_at FROM rate_limit_hits
            WHERE scope = $1 AND key = $2 AND hit_at > $3
            ORDER BY hit_at DESC LIMIT $4) recent`,
        [hit.scope, hit.key, windowStart, hit.max],
      )) as Array<{ times: Date[] | null }>;
      const reachedAt = limitReachedAt(row.times, hit.max);
      if (reachedAt) return { allowed: false, unlocksAt: new Date(reachedAt.getTime() + hit.windowSeconds * 1000) };
      await manager.query(`INSERT INTO rate_limit_hits (scope, key, hit_at, expires_at) VALUES ($1, $2, $3, $4)`, [
        hit.scope,
        hit.key,
        hit.now,
        new Date(hit.now.getTime() + hit.windowSeconds * 1000),
      ]);
      // Work that must commit with the hit (or not at all), in the same transaction.
      if (andThen) await andThen(manager);
      return { allowed: true };
    });
  }
}
