import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The second factor (src/auth/mfa): authenticator apps (`mfa_totp`, the secret encrypted),
 * recovery codes (`mfa_recovery_codes`, SHA-256), the pending second step of a sign-in
 * (`mfa_challenges`, token hashes), and on each session how and when its user last authenticated
 * (`authenticated_at`, `amr`: what the tokens' `auth_time` and `amr` say). Rows of sessions opened
 * before keep both null: their sign-in time and a password.
 */
export class AddSecondFactor1765400000000 implements MigrationInterface {
  name = 'AddSecondFactor1765400000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE "sessions" ADD "authenticated_at" TIMESTAMP WITH TIME ZONE, ADD "amr" text array`,
    );
    await queryRunner.query(`
      CREATE TABLE "mfa_totp" (
        "user_id" uuid NOT NULL,
        "secret_encrypted" text NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "enabled_at" TIMESTAMP WITH TIME ZONE,
        "last_used_step" bigint,
        CONSTRAINT "mfa_totp_pkey" PRIMARY KEY ("user_id"),
        CONSTRAINT "mfa_totp_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      CREATE TABLE "mfa_recovery_codes" (
        "user_id" uuid NOT NULL,
        "code_hash" character(64) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "used_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "mfa_recovery_codes_pkey" PRIMARY KEY ("user_id", "code_hash"),
        CONSTRAINT "mfa_recovery_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`
      CREATE TABLE "mfa_challenges" (
        "token_hash" character(64) NOT NULL,
        "user_id" uuid NOT NULL,
        "account_key" character(64) NOT NULL,
        "password_fingerprint" character(64) NOT NULL,
        "device_name" character varying(100),
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "failed_attempts" integer NOT NULL DEFAULT 0,
        CONSTRAINT "mfa_challenges_pkey" PRIMARY KEY ("token_hash"),
        CONSTRAINT "mfa_challenges_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "mfa_challenges_user_id_idx" ON "mfa_challenges" ("user_id")`);
    await queryRunner.query(`CREATE INDEX "mfa_challenges_expires_at_idx" ON "mfa_challenges" ("expires_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "mfa_challenges"`);
    await queryRunner.query(`DROP TABLE "mfa_recovery_codes"`);
    await queryRunner.query(`DROP TABLE "mfa_totp"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP COLUMN "amr", DROP COLUMN "authenticated_at"`);
  }
}
