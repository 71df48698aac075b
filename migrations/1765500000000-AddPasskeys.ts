import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Passkeys (src/auth/passkeys): the users' WebAuthn credentials (`passkeys`: public keys only,
 * deleted with the account) and the challenges handed out with WebAuthn options
 * (`webauthn_challenges`: hashes, single use, purged once expired). Accounts may have no password
 * from now on (a passkey, later another provider, is their way in): `users.password_hash` nullable.
 */
export class AddPasskeys1765500000000 implements MigrationInterface {
  name = 'AddPasskeys1765500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "passkeys" (
        "id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "credential_id" character varying(1400) NOT NULL,
        "public_key" bytea NOT NULL,
        "counter" bigint NOT NULL DEFAULT 0,
        "transports" text array NOT NULL DEFAULT '{}',
        "device_type" character varying(16) NOT NULL,
        "backed_up" boolean NOT NULL,
        "name" character varying(100) NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "last_used_at" TIMESTAMP WITH TIME ZONE,
        CONSTRAINT "passkeys_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "passkeys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE
      )`);
    await queryRunner.query(`CREATE INDEX "passkeys_user_id_idx" ON "passkeys" ("user_id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "passkeys_credential_id_key" ON "passkeys" ("credential_id")`);
    await queryRunner.query(`
      CREATE TABLE "webauthn_challenges" (
        "challenge_hash" character(64) NOT NULL,
        "purpose" character varying(20) NOT NULL,
        "user_id" uuid,
        "session_id" uuid,
        "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        "mfa_token_hash" character(64),
        CONSTRAINT "webauthn_challenges_pkey" PRIMARY KEY ("challenge_hash")
      )`);
    await queryRunner.query(
      `CREATE INDEX "webauthn_challenges_expires_at_idx" ON "webauthn_challenges" ("expires_at")`,
    );
    await queryRunner.query(
      `CREATE INDEX "webauthn_challenges_user_id_idx" ON "webauthn_challenges" ("user_id") WHERE "user_id" IS NOT NULL`,
    );
    // What the first step of a sign-in was (a password, or a passkey without user verification).
    await queryRunner.query(`ALTER TABLE "mfa_challenges" ADD "first_factor" text array NOT NULL DEFAULT '{pwd}'`);
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "password_hash" DROP NOT NULL`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Accounts without a password cannot go back to a schema that needs one: said, not guessed at.
    const [{ n }] = (await queryRunner.query(
      `SELECT count(*)::int AS n FROM "users" WHERE "password_hash" IS NULL`,
    )) as Array<{ n: number }>;
    if (n > 0) {
      throw new Error(
        `${n} accounts have no password: give each one (a password reset) or delete them before reverting AddPasskeys`,
      );
    }
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "password_hash" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "mfa_challenges" DROP COLUMN "first_factor"`);
    await queryRunner.query(`DROP TABLE "webauthn_challenges"`);
    await queryRunner.query(`DROP TABLE "passkeys"`);
  }
}
