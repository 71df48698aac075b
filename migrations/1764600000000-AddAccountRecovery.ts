import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Password reset and email verification: `users.email_verified_at`, the single-use tokens
 * (`account_tokens`, hashes only, one per user and purpose), and the mail outbox (`mail_outbox`,
 * drained with retries; a row is deleted once sent or once its link has expired).
 */
export class AddAccountRecovery1764600000000 implements MigrationInterface {
  name = 'AddAccountRecovery1764600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" ADD "email_verified_at" TIMESTAMP WITH TIME ZONE`);
    await queryRunner.query(`
      CREATE TABLE "account_tokens" (
        "token_hash" character(64) NOT NULL,
        "user_id" uuid NOT NULL,
        "purpose" character varying(20) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "account_tokens_purpose_check" CHECK ("purpose" IN ('password_reset', 'email_verification')),
        CONSTRAINT "account_tokens_pkey" PRIMARY KEY ("token_hash"),
        CONSTRAINT "account_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "account_tokens_user_id_purpose_key" ON "account_tokens" ("user_id", "purpose")`,
    );
    await queryRunner.query(`CREATE INDEX "account_tokens_expires_at_idx" ON "account_tokens" ("expires_at")`);
    await queryRunner.query(`
      CREATE TABLE "mail_outbox" (
        "id" bigint GENERATED ALWAYS AS IDENTITY NOT NULL,
        "user_id" uuid,
        "purpose" character varying(20) NOT NULL,
        "recipient" character varying(254) NOT NULL,
        "subject" text NOT NULL,
        "body_text" text NOT NULL,
        "body_html" text,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "not_after" TIMESTAMP WITH TIME ZONE NOT NULL,
        "attempts" integer NOT NULL DEFAULT 0,
        "last_error" text,
        CONSTRAINT "mail_outbox_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "mail_outbox_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "mail_outbox_next_attempt_at_idx" ON "mail_outbox" ("next_attempt_at")`);
    await queryRunner.query(`CREATE INDEX "mail_outbox_user_id_purpose_idx" ON "mail_outbox" ("user_id", "purpose")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "mail_outbox"`);
    await queryRunner.query(`DROP TABLE "account_tokens"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "email_verified_at"`);
  }
}
