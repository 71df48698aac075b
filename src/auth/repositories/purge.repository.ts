import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, QueryRunner } from 'typeorm';
import { PURGE_ADVISORY_LOCK_KEY } from '../auth.constants.js';

/** Batched deletes of rows that no longer matter, under a cluster-wide advisory lock. */
@Injectable()
export class PurgeRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Runs `work` on one connection holding the purge advisory lock; returns null without running it
   * when another connection (another instance) holds the lock.
   */
  async withPurgeLock<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T | null> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        PURGE_ADVISORY_LOCK_KEY,
      ])) as Array<{ locked: boolean }>;
      if (!locked) return null;
      try {
        return await work(runner);
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [PURGE_ADVISORY_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  }

  /** Deletes at most `limit` denylist rows whose token expired before `before`; returns how many. */
  deleteExpiredRevokedTokens(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, 'revoked_tokens', 'jti', 'expires_at < $1', before, limit);
  }

  /** Deletes at most `limit` failed-login rows older than `before` (out of every throttling window). */
  deleteOldLoginFailures(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, 'login_failures', 'id', 'failed_at < $1', before, limit);
  }

  /** Deletes at most `limit` sessions that ended (expired, idle or revoked) before `before`. */
  deleteEndedSessions(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    const ended = `LEAST(expires_at, refresh_expires_at, COALESCE(revoked_at, 'infinity')) < $1`;
    return deleteBatch(runner, 'sessions', 'id', ended, before, limit);
  }
}

/**
 * One bounded DELETE (by primary key, from a LIMITed sub-select) of the rows matching `condition`.
 * Table, key and condition are this file's constants, never input.
 */
async function deleteBatch(
  runner: QueryRunner,
  table: string,
  key: string,
  condition: string,
  before: Date,
  limit: number,
): Promise<number> {
  const result = await runner.query(
    `DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${table} WHERE ${condition} LIMIT $2)`,
    [before, limit],
    true,
  );
  return result.affected ?? 0;
}
