import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The index the purge of ended sessions reads in order (src/auth/repositories/purge.repository.ts):
 * without it, collecting a batch has to scan every session. The expression must stay identical to
 * the purge's, or the planner cannot use the index.
 *
 * `sessions` may already be large, so the index is built with CREATE INDEX CONCURRENTLY, which does
 * not block writes (logins, refreshes, logouts) while it runs. CONCURRENTLY cannot run inside a
 * transaction block, hence `transaction = false`; TypeORM accepts that only with the DataSource
 * option `migrationsTransactionMode: 'each'` (or 'none').
 */
export class AddPurgeIndexes1764300000000 implements MigrationInterface {
  name = 'AddPurgeIndexes1764300000000';
  transaction = false;

  public async up(queryRunner: QueryRunner): Promise<void> {
    // IF NOT EXISTS: a run that built the index but died before TypeORM recorded the migration can
    // simply be rerun.
    await queryRunner.query(
      `CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_ended_at_idx" ON "sessions" ` +
        `((LEAST("expires_at", "refresh_expires_at", COALESCE("revoked_at", 'infinity'::timestamptz))))`,
    );
    // A failed concurrent build leaves an INVALID index behind, which IF NOT EXISTS would accept and
    // the planner never uses: refuse it instead of recording the migration as done.
    const [{ valid }] = (await queryRunner.query(
      `SELECT bool_and(i.indisvalid) AS valid FROM pg_index i WHERE i.indexrelid = to_regclass('sessions_ended_at_idx')`,
    )) as Array<{ valid: boolean | null }>;
    if (valid !== true) {
      throw new Error(
        'Index "sessions_ended_at_idx" is INVALID (an earlier concurrent build failed or is still running): ' +
          'run DROP INDEX CONCURRENTLY "sessions_ended_at_idx"; then run the migrations again',
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // TypeORM 1.1 reverts inside a transaction unless told `transaction: 'none'` (CLI:
    // `migration:revert -t none`), whatever `transaction` says above, and DROP INDEX CONCURRENTLY is
    // refused there. The plain form is as quick, but takes an exclusive lock on sessions for that
    // moment (queued behind transactions already using the table).
    const concurrently = queryRunner.isTransactionActive ? '' : 'CONCURRENTLY ';
    await queryRunner.query(`DROP INDEX ${concurrently}IF EXISTS "sessions_ended_at_idx"`);
  }
}
