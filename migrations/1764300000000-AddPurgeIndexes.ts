import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The purge's order of sessions; the expression must stay identical to the purge's, or the planner cannot use the index. */
export const SESSIONS_ENDED_AT_INDEX = 'sessions_ended_at_idx';
const ENDED_AT = `((LEAST("expires_at", "refresh_expires_at", COALESCE("revoked_at", 'infinity'::timestamptz))))`;

/**
 * The index the purge of ended sessions reads in order (PurgeRepository):
 * without it, collecting a batch has to scan every session.
 *
 * It runs under TypeORM's defaults (`migrationsTransactionMode: 'all'`, inside the migrations'
 * transaction): there the index is built with a plain CREATE INDEX, whose lock holds writes to
 * `sessions` until that transaction commits (after the migrations that follow it): nothing to
 * notice on a new or small table. Outside a transaction
 * (`migration:run -t none`, or `migrationsTransactionMode: 'none'`) it is built CONCURRENTLY.
 *
 * A large existing deployment builds it beforehand without blocking writes, with the statement
 * docs/operations.md gives (CREATE INDEX CONCURRENTLY IF NOT EXISTS ...): this migration then finds
 * it, takes no lock, and only checks that it is valid.
 */
export class AddPurgeIndexes1764300000000 implements MigrationInterface {
  name = 'AddPurgeIndexes1764300000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    // Checked before any CREATE INDEX: even IF NOT EXISTS takes its lock on sessions first.
    if ((await indexValidity(queryRunner)) === null) {
      const concurrently = queryRunner.isTransactionActive ? '' : 'CONCURRENTLY ';
      await queryRunner.query(
        `CREATE INDEX ${concurrently}IF NOT EXISTS "${SESSIONS_ENDED_AT_INDEX}" ON "sessions" ${ENDED_AT}`,
      );
    }
    // A failed concurrent build leaves an INVALID index behind, which the planner never uses:
    // refuse it instead of recording the migration as done.
    if ((await indexValidity(queryRunner)) !== true) {
      throw new Error(
        `Index "${SESSIONS_ENDED_AT_INDEX}" is INVALID (an earlier concurrent build failed or is still running): ` +
          `run DROP INDEX CONCURRENTLY "${SESSIONS_ENDED_AT_INDEX}"; then run the migrations again`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Inside a transaction (TypeORM's default for a revert) DROP INDEX CONCURRENTLY is refused. The
    // plain form is as quick, but takes an exclusive lock on sessions for that moment (queued behind
    // transactions already using the table).
    const concurrently = queryRunner.isTransactionActive ? '' : 'CONCURRENTLY ';
    await queryRunner.query(`DROP INDEX ${concurrently}IF EXISTS "${SESSIONS_ENDED_AT_INDEX}"`);
  }
}

/** null: no such index; otherwise whether it is valid. */
async function indexValidity(queryRunner: QueryRunner): Promise<boolean | null> {
  const rows = (await queryRunner.query(
    `SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass($1)`,
    [SESSIONS_ENDED_AT_INDEX],
  )) as Array<{ valid: boolean }>;
  return rows.length === 0 ? null : rows[0].valid;
}
