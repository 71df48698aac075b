import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, QueryRunner } from 'typeorm';
import { PURGE_ADVISORY_LOCK_KEY } from '../auth.constants.js';

/** Batched deletes of rows that no longer matter, under a cluster-wide, transaction-scoped advisory lock. */
@Injectable()
export class PurgeRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Runs `work` while this instance holds the purge advisory lock; returns null without running it
   * when another connection (another instance) holds the lock.
   *
   * The lock is transaction-scoped (`pg_try_advisory_xact_lock`), taken in a transaction of its own
   * on a connection of its own that stays open, doing nothing, while `work` runs its short batches
   * on a second connection, and rolled back at the end, which releases it. A transaction keeps its
   * one server connection behind a transaction-mode pooler (PgBouncer), so the lock cannot be left
   * behind on a server connection that another client then holds: a session-level lock and its
   * unlock, as two statements outside a transaction, could each land on a different one. The lock
   * transaction takes no snapshot between statements (READ COMMITTED) and writes nothing, so it
   * holds back neither vacuum nor anyone's rows.
   */
  async withPurgeLock<T>(work: (runner: QueryRunner) => Promise<T>): Promise<T | null> {
    const lock = this.dataSource.createQueryRunner();
    await lock.connect();
    try {
      await lock.startTransaction('READ COMMITTED');
      try {
        const [{ locked }] = (await lock.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [
          PURGE_ADVISORY_LOCK_KEY,
        ])) as Array<{ locked: boolean }>;
        if (!locked) return null;
        const runner = this.dataSource.createQueryRunner();
        await runner.connect();
        try {
          return await work(runner);
        } finally {
          await runner.release();
        }
      } finally {
        // Ends the lock's transaction, and with it the lock.
        await lock.rollbackTransaction().catch(() => undefined);
      }
    } finally {
      await lock.release();
    }
  }

  /** Deletes at most `limit` denylist rows whose token expired before `before`; returns how many. */
  deleteExpiredRevokedTokens(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.revokedTokens, before, limit);
  }

  /** Deletes at most `limit` failed-login rows older than `before` (out of every throttling window). */
  deleteOldLoginFailures(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.loginFailures, before, limit);
  }

  /** Deletes at most `limit` rate-limit hits whose window ended before `before`. */
  deleteExpiredAccountTokens(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.accountTokens, before, limit);
  }

  /** Deletes at most `limit` second steps of sign-ins (mfaTokens) that expired before `before`. */
  deleteExpiredMfaChallenges(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.mfaChallenges, before, limit);
  }

  /** Deletes at most `limit` WebAuthn challenges (passkey options never answered) that expired before `before`. */
  deleteExpiredWebAuthnChallenges(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.webauthnChallenges, before, limit);
  }

  /** Deletes at most `limit` sign-ins sent to an OpenID provider and never back, expired before `before`. */
  deleteExpiredOidcTransactions(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.oidcTransactions, before, limit);
  }

  /** Deletes at most `limit` one-time codes of provider sign-ins, never exchanged, expired before `before`. */
  deleteExpiredOidcLoginCodes(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.oidcLoginCodes, before, limit);
  }

  /** Deletes at most `limit` security events recorded before `before` (older than the retention). */
  deleteOldEvents(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.authEvents, before, limit);
  }

  deleteExpiredRateLimitHits(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.rateLimitHits, before, limit);
  }

  /** Deletes at most `limit` tombstones of users deleted before `before` (their access tokens have expired). */
  deleteOldTombstones(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.deletedUsers, before, limit);
  }

  /** Deletes at most `limit` sessions that ended (expired, idle or revoked) before `before`. */
  deleteEndedSessions(runner: QueryRunner, before: Date, limit: number): Promise<number> {
    return deleteBatch(runner, PURGE_TARGETS.sessions, before, limit);
  }
}

/** What the purge deletes from one table: rows whose `key` is before the cut-off, read through `index`. */
export interface PurgeTarget {
  table: string;
  /** A column, or an expression, that `index` holds exactly as written here. */
  key: string;
  index: string;
}

/** The purged tables. Table, key and index are constants, never input. */
export const PURGE_TARGETS = {
  revokedTokens: { table: 'revoked_tokens', key: 'expires_at', index: 'revoked_tokens_expires_at_idx' },
  loginFailures: { table: 'login_failures', key: 'failed_at', index: 'login_failures_failed_at_idx' },
  rateLimitHits: { table: 'rate_limit_hits', key: 'expires_at', index: 'rate_limit_hits_expires_at_idx' },
  accountTokens: { table: 'account_tokens', key: 'expires_at', index: 'account_tokens_expires_at_idx' },
  mfaChallenges: { table: 'mfa_challenges', key: 'expires_at', index: 'mfa_challenges_expires_at_idx' },
  webauthnChallenges: {
    table: 'webauthn_challenges',
    key: 'expires_at',
    index: 'webauthn_challenges_expires_at_idx',
  },
  oidcTransactions: { table: 'oidc_transactions', key: 'expires_at', index: 'oidc_transactions_expires_at_idx' },
  oidcLoginCodes: { table: 'oidc_login_codes', key: 'expires_at', index: 'oidc_login_codes_expires_at_idx' },
  authEvents: { table: 'auth_events', key: 'at', index: 'auth_events_at_idx' },
  deletedUsers: { table: 'deleted_users', key: 'deleted_at', index: 'deleted_users_deleted_at_idx' },
  // When the session ended: expired, idle or revoked. Must match the expression of
  // sessions_ended_at_idx (migration 1764300000000) exactly, or the index is not used.
  sessions: {
    table: 'sessions',
    key: `LEAST(expires_at, refresh_expires_at, COALESCE(revoked_at, 'infinity'::timestamptz))`,
    index: 'sessions_ended_at_idx',
  },
} as const satisfies Record<string, PurgeTarget>;

/**
 * Planner settings for collecting a batch. With scans other than the index disabled, and sorting
 * too, the one plan left is an Index Scan in key order under the LIMIT, which stops after `limit`
 * rows: the cost of a batch follows its size, whatever the statistics say (never analyzed right
 * after a bulk load, or analyzed when every row was still live). The enabled ones are set as well,
 * in case a host changed their defaults. SET LOCAL ends with the batch's transaction.
 */
const COLLECT_PLAN_SETTINGS = [
  'SET LOCAL enable_seqscan = off',
  'SET LOCAL enable_bitmapscan = off',
  'SET LOCAL enable_sort = off',
  'SET LOCAL enable_incremental_sort = off',
  'SET LOCAL enable_indexscan = on',
  // Neither a parallel plan nor JIT compilation pays off for one batch; both follow cost estimates.
  'SET LOCAL max_parallel_workers_per_gather = 0',
  'SET LOCAL jit = off',
].join('; ');

/**
 * Planner settings for deleting the collected rows: with index scans disabled too, a Tid Scan (one
 * heap fetch per collected row) is the only plan left. The key's condition repeated in the DELETE
 * would otherwise let the planner scan the whole index range, every expired row, for each batch,
 * whenever stale statistics say that range is small.
 */
const DELETE_PLAN_SETTINGS = [
  'SET LOCAL enable_indexscan = off',
  'SET LOCAL enable_indexonlyscan = off',
  'SET LOCAL enable_tidscan = on',
].join('; ');

/** The two statements of one batch. */
function purgeBatchStatements(target: PurgeTarget): { collect: string; delete: string } {
  return {
    // The row addresses (ctid) of the first `limit` rows in key order, as one tid[] literal.
    collect:
      `SELECT array_agg(ctid)::text AS ctids FROM ` +
      `(SELECT ctid FROM ${target.table} WHERE ${target.key} < $1 ORDER BY ${target.key} LIMIT $2) AS batch`,
    // The condition is checked again: a row changed or replaced between the two statements (this
    // transaction is READ COMMITTED) is deleted only if it is still to be purged.
    delete: `DELETE FROM ${target.table} WHERE ctid = ANY($1::tid[]) AND ${target.key} < $2`,
  };
}

/**
 * One batch, in a short transaction of its own: collect the addresses of at most `limit` rows to
 * purge from the index, then delete exactly those. Each statement has a single plan the settings
 * allow, so no batch depends on the planner's estimates (a `DELETE … WHERE key IN (SELECT … LIMIT)`
 * did: on PostgreSQL 15 right after a bulk load, its first batch ran for over ten minutes).
 */
async function deleteBatch(runner: QueryRunner, target: PurgeTarget, before: Date, limit: number): Promise<number> {
  const statements = purgeBatchStatements(target);
  // READ COMMITTED whatever the server's default: the DELETE then skips a row changed since the
  // collect instead of failing the batch with a serialization error.
  await runner.startTransaction('READ COMMITTED');
  try {
    await runner.query(COLLECT_PLAN_SETTINGS);
    const [{ ctids }] = (await runner.query(statements.collect, [before, limit])) as Array<{ ctids: string | null }>;
    let deleted = 0;
    if (ctids !== null) {
      await runner.query(DELETE_PLAN_SETTINGS);
      const result = await runner.query(statements.delete, [ctids, before], true);
      deleted = result.affected ?? 0;
    }
    await runner.commitTransaction();
    return deleted;
  } catch (error) {
    // Report the batch's own error, not a failed rollback on a broken connection.
    await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  }
}
