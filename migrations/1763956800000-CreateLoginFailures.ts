import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateLoginFailures1763956800000 implements MigrationInterface {
  name = 'CreateLoginFailures1763956800000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "login_failures" (
        "id" bigint GENERATED ALWAYS AS IDENTITY,
        "account_key" char(64) NOT NULL,
        "ip" varchar(64) NOT NULL,
        "failed_at" timestamptz NOT NULL,
        CONSTRAINT "login_failures_pkey" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(
      `CREATE INDEX "login_failures_account_ip_idx" ON "login_failures" ("account_key", "ip", "failed_at")`,
    );
    await queryRunner.query(`CREATE INDEX "login_failures_ip_idx" ON "login_failures" ("ip", "failed_at")`);
    await queryRunner.query(`CREATE INDEX "login_failures_failed_at_idx" ON "login_failures" ("failed_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "login_failures"`);
  }
}
