import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Activity and administration (src/auth/security-events, src/auth/roles, src/auth/admin): the event
 * store (`auth_events`: what happened to whose account, by whom, from where; no secret is ever
 * written to it; purged after `eventRetention`), the users' roles (`users.roles`, empty for every
 * existing user), and a third purpose of the single-use mailed tokens, `secure_account` (the
 * "This wasn't me" link of a new-device alert).
 *
 * `auth_events.user_id` has no foreign key on purpose: the record of a deleted account (who
 * deleted it, and when) outlives it, until the retention purge.
 */
export class AddActivityAndRoles1765700000000 implements MigrationInterface {
  name = 'AddActivityAndRoles1765700000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "auth_events" (
        "id" bigint GENERATED ALWAYS AS IDENTITY,
        "type" character varying(64) NOT NULL,
        "user_id" uuid,
        "actor_kind" character varying(8) NOT NULL,
        "actor_id" uuid,
        "session_id" uuid,
        "ip" character varying(64),
        "network" character varying(64),
        "device_name" character varying(100),
        "details" jsonb NOT NULL DEFAULT '{}',
        "at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "auth_events_pkey" PRIMARY KEY ("id"),
        CONSTRAINT "auth_events_actor_kind_check" CHECK ("actor_kind" IN ('user', 'admin', 'system'))
      )`);
    // A user's activity, newest first (also the new-device check's sign-ins of the last 90 days).
    await queryRunner.query(
      `CREATE INDEX "auth_events_user_id_at_idx" ON "auth_events" ("user_id", "at" DESC, "id" DESC)`,
    );
    // The retention purge, and the operators' reading of every event, newest first.
    await queryRunner.query(`CREATE INDEX "auth_events_at_idx" ON "auth_events" ("at", "id")`);
    // The new-device check's question (this user's sign-ins from this device and network lately),
    // answered from the sign-ins alone, however many other events a user has.
    await queryRunner.query(
      `CREATE INDEX "auth_events_sign_ins_idx" ON "auth_events" ("user_id", "device_name", "network", "at")
         WHERE "type" = 'login_succeeded'`,
    );
    await queryRunner.query(`ALTER TABLE "users" ADD "roles" text[] NOT NULL DEFAULT '{}'`);
    await queryRunner.query(`ALTER TABLE "account_tokens" DROP CONSTRAINT "account_tokens_purpose_check"`);
    await queryRunner.query(
      `ALTER TABLE "account_tokens" ADD CONSTRAINT "account_tokens_purpose_check"
         CHECK ("purpose" IN ('password_reset', 'email_verification', 'secure_account'))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DELETE FROM "account_tokens" WHERE "purpose" = 'secure_account'`);
    await queryRunner.query(`DELETE FROM "mail_outbox" WHERE "purpose" = 'new_device_alert'`);
    await queryRunner.query(`ALTER TABLE "account_tokens" DROP CONSTRAINT "account_tokens_purpose_check"`);
    await queryRunner.query(
      `ALTER TABLE "account_tokens" ADD CONSTRAINT "account_tokens_purpose_check"
         CHECK ("purpose" IN ('password_reset', 'email_verification'))`,
    );
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "roles"`);
    await queryRunner.query(`DROP TABLE "auth_events"`);
  }
}
