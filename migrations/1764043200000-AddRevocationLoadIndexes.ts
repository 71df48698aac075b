import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Partial indexes for loading recent revocations into memory at start (few rows of large tables). */
export class AddRevocationLoadIndexes1764043200000 implements MigrationInterface {
  name = 'AddRevocationLoadIndexes1764043200000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "sessions_revoked_at_idx" ON "sessions" ("revoked_at") WHERE "revoked_at" IS NOT NULL`,
    );
    await queryRunner.query(
      `CREATE INDEX "users_tokens_valid_after_idx" ON "users" ("tokens_valid_after") WHERE "tokens_valid_after" IS NOT NULL`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "users_tokens_valid_after_idx"`);
    await queryRunner.query(`DROP INDEX "sessions_revoked_at_idx"`);
  }
}
