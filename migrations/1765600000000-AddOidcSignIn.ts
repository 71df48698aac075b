import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sign-in with OpenID Connect providers (src/auth/oidc): the users' linked provider accounts
 * (`user_identities`, unique per provider and subject, deleted with the account), the sign-ins
 * sent to a provider and not yet back (`oidc_transactions`), and the one-time codes bearer
 * clients exchange (`oidc_login_codes`); the last two hold hashes and are purged once expired.
 */
export class AddOidcSignIn1765600000000 implements MigrationInterface {
  name = 'AddOidcSignIn1765600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "user_identities" (
        "id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "provider" character varying(32) NOT NULL,
        "subject" character varying(255) NOT NULL,
        "email" text,
        "linked_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "last_used_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "user_identities_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "user_identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "user_identities_provider_subject_key" ON "user_identities" ("provider", "subject")`,
    );
    await queryRunner.query(`CREATE INDEX "user_identities_user_id_idx" ON "user_identities" ("user_id")`);
    await queryRunner.query(`
      CREATE TABLE "oidc_transactions" (
        "state_hash" character(64) NOT NULL,
        "binding_hash" character(64) NOT NULL,
        "provider" character varying(32) NOT NULL,
        "nonce" character varying(128) NOT NULL,
        "code_verifier" character varying(128) NOT NULL,
        "return_to" text NOT NULL,
        "transport" character varying(8) NOT NULL,
        "link_user_id" uuid,
        "link_session_id" uuid,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "oidc_transactions_pkey" PRIMARY KEY ("state_hash")
      )`);
    await queryRunner.query(`CREATE INDEX "oidc_transactions_expires_at_idx" ON "oidc_transactions" ("expires_at")`);
    await queryRunner.query(`
      CREATE TABLE "oidc_login_codes" (
        "code_hash" character(64) NOT NULL,
        "user_id" uuid NOT NULL,
        "provider" character varying(32) NOT NULL,
        "binding_hash" character(64) NOT NULL,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "oidc_login_codes_pkey" PRIMARY KEY ("code_hash"),
        CONSTRAINT "oidc_login_codes_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "oidc_login_codes_expires_at_idx" ON "oidc_login_codes" ("expires_at")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "oidc_login_codes"`);
    await queryRunner.query(`DROP TABLE "oidc_transactions"`);
    await queryRunner.query(`DROP TABLE "user_identities"`);
  }
}
