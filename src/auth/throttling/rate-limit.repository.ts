import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { throttleKey, throttleNetworkKey } from '../common/client-address.js';

export interface RateLimitHit {
  /** Which limit (e.g. `register`). */
  scope: string;
  /** Whom it counts (a client's throttling key). */
  key: string;
  now: Date;
  windowSeconds: number;
  max: number;
}

/** Refused: which limit (`scope`, for whom: `key`) is full, and when it frees up. */
export type RateLimitDecision = { allowed: true } | { allowed: false; unlocksAt: Date; scope: string; key: string };

/**
 * The hits one request counts: its client's (an IPv4 address, an IPv6 /64) and, for IPv6, its
 * /48's (65,536 /64s, what one site is usually given), each a scope and a limit of its own, in one
 * window. Given together to RateLimitRepository.hit, a request refused by either counts against
 * neither.
 */
export function clientHits(
  ip: string | null,
  now: Date,
  windowSeconds: number,
  client: { scope: string; max: number },
  network: { scope: string; max: number },
): RateLimitHit[] {
  const hits = [{ scope: client.scope, key: throttleKey(ip), now, windowSeconds, max: client.max }];
  const networkKey = throttleNetworkKey(ip);
  if (networkKey) hits.push({ scope: network.scope, key: networkKey, now, windowSeconds, max: network.max });
  return hits;
}

/** Sliding-window counters in PostgreSQL (table rate_limit_hits), shared by every instance. */
@Injectable()
export class RateLimitRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Counts the hits of each (scope, key) within its window; when every one is under its limit,
   * records one hit in each and runs `andThen`, all in one transaction; when any is full, records
   * none (a client refused by its own limit spends nothing of its network's). An advisory lock
   * on each (scope, key), taken in the order given, makes check and insert one step across
   * instances.
   */
  async hit(
    hits: RateLimitHit | RateLimitHit[],
    andThen?: (manager: EntityManager) => Promise<void>,
  ): Promise<RateLimitDecision> {
    const all = Array.isArray(hits) ? hits : [hits];
    return this.dataSource.transaction(async (manager) => {
      for (const hit of all) {
        await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('rate-limit:' || $1 || ':' || $2, 0))`, [
          hit.scope,
          hit.key,
        ]);
        const windowStart = new Date(hit.now.getTime() - hit.windowSeconds * 1000);
        const [row] = (await manager.query(
          `SELECT array_agg(hit_at) AS times FROM (
             SELECT hit_at FROM rate_limit_hits
              WHERE scope = $1 AND key = $2 AND hit_at > $3
              ORDER BY hit_at DESC LIMIT $4) recent`,
          [hit.scope, hit.key, windowStart, hit.max],
        )) as Array<{ times: Date[] | null }>;
        const reachedAt = limitReachedAt(row.times, hit.max);
        if (reachedAt) {
          const unlocksAt = new Date(reachedAt.getTime() + hit.windowSeconds * 1000);
          return { allowed: false, unlocksAt, scope: hit.scope, key: hit.key };
        }
      }
      for (const hit of all) {
        await manager.query(`INSERT INTO rate_limit_hits (scope, key, hit_at, expires_at) VALUES ($1, $2, $3, $4)`, [
          hit.scope,
          hit.key,
          hit.now,
          new Date(hit.now.getTime() + hit.windowSeconds * 1000),
        ]);
      }
      // Work that must commit with the hits (or not at all), in the same transaction.
      if (andThen) await andThen(manager);
      return { allowed: true };
    });
  }
}

/** Time of the oldest of the `limit` most recent events (newest first), when the limit is reached. */
export function limitReachedAt(newestFirst: Date[] | null, limit: number): Date | null {
  if (!newestFirst || newestFirst.length < limit) return null;
  return new Date(newestFirst[limit - 1]);
}
