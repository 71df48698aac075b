import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Suspensions get their own column (a ban no longer doubles as a cut-off in the future), deleted
 * users leave a tombstone until their last access token has expired, and registrations are
 * counted for throttling. Only new tables and a nullable column without default: no table rewrite.
 */
export class HardenAccounts1764200000000 implements MigrationInterface {
  name = 'HardenAccounts1764200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" ADD COLUMN "suspended_until" timestamptz NULL`);
    // Bans recorded before this migration were a cut-off in the future: they become suspensions.
    await queryRunner.query(
      `UPDATE "users" SET "suspended_until" = "tokens_valid_after" WHERE "tokens_valid_after" > now()`,
    );

    await queryRunner.query(`
      CREATE TABLE "deleted_users" (
        "user_id" uuid NOT NULL,
        "deleted_at" timestamptz NOT NULL,
        CONSTRAINT "deleted_users_pkey" PRIMARY KEY ("user_id")
      )`);
    await queryRunner.query(`CREATE INDEX "deleted_users_deleted_at_idx" ON "deleted_users" ("deleted_at")`);

    await queryRunner.query(`
      CREATE TABLE "rate_limit_hits" (
        "id" bigint GENERATED ALWAYS AS IDENTITY,
        "scope" varchar(32) NOT NULL,
        "key" varchar(64) NOT NULL,
        "hit_at" timestamptz NOT NULL,
        "expires_at" timestamptz NOT NULL,
        CONSTRAINT "rate_limit_hits_pkey" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(
      `CREATE INDEX "rate_limit_hits_scope_key_idx" ON "rate_limit_hits" ("scope", "key", "hit_at")`,
    );
    await queryRunner.query(`CREATE INDEX "rate_limit_hits_expires_at_idx" ON "rate_limit_hits" ("expires_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "rate_limit_hits"`);
    await queryRunner.query(`DROP TABLE "deleted_users"`);
    await queryRunner.query(
      `UPDATE "users" SET "tokens_valid_after" = GREATEST("tokens_valid_after", "suspended_until")
        WHERE "suspended_until" IS NOT NULL`,
    );
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "suspended_until"`);
  }
}
