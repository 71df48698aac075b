import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateAuthTables1763870400000 implements MigrationInterface {
  name = 'CreateAuthTables1763870400000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "users" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "email" varchar(254) NOT NULL,
        "password_hash" text NOT NULL,
        "tokens_valid_after" timestamptz NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "users_pkey" PRIMARY KEY ("id")
      )`);
    await queryRunner.query(`CREATE UNIQUE INDEX "users_email_lower_key" ON "users" (lower("email"))`);

    await queryRunner.query(`
      CREATE TABLE "sessions" (
        "id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "device_name" varchar(100) NULL,
        "user_agent" varchar(512) NULL,
        "ip" varchar(64) NULL,
        "created_at" timestamptz NOT NULL,
        "last_used_at" timestamptz NOT NULL,
        "expires_at" timestamptz NOT NULL,
        "refresh_token_hash" char(64) NOT NULL,
        "previous_refresh_token_hash" char(64) NULL,
        "refresh_rotated_at" timestamptz NULL,
        "refresh_expires_at" timestamptz NOT NULL,
        "revoked_at" timestamptz NULL,
        "revoked_reason" varchar(64) NULL,
        CONSTRAINT "sessions_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "sessions_user_id_idx" ON "sessions" ("user_id")`);

    await queryRunner.query(`
      CREATE TABLE "revoked_tokens" (
        "jti" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "expires_at" timestamptz NOT NULL,
        "revoked_at" timestamptz NOT NULL,
        "reason" varchar(64) NOT NULL,
        CONSTRAINT "revoked_tokens_pkey" PRIMARY KEY ("jti")
      )`);
    await queryRunner.query(`CREATE INDEX "revoked_tokens_expires_at_idx" ON "revoked_tokens" ("expires_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "revoked_tokens"`);
    await queryRunner.query(`DROP TABLE "sessions"`);
    await queryRunner.query(`DROP TABLE "users"`);
  }
}
