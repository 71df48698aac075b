import type { MigrationInterface, QueryRunner } from 'typeorm';
import { canonicalEmail } from '../src/auth/accounts/email-address.js';

/** Rows read and written per statement while the canonical forms are filled in. */
const BATCH = 5_000;

/**
 * One identity per address: `users.email_canonical` (canonicalEmail: NFC, Unicode lower case,
 * ASCII domain), unique, replaces the unique index on `lower(email)`, whose folding depends on the
 * database's collation and disagreed with the module's own (on `C.UTF-8`, `lower('İ')` is `i`).
 *
 * The forms are computed here, in JavaScript, by the function the module compares with. Two
 * existing accounts whose addresses now share a form (`café@…` composed and decomposed,
 * `…@bücher.example` and `…@xn--bcher-kva.example`) are never merged: the migration fails, naming
 * the accounts, and changes nothing. docs/operations.md#canonical-email-addresses says what to do.
 */
export class CanonicalEmails1765000000000 implements MigrationInterface {
  name = 'CanonicalEmails1765000000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" ADD COLUMN IF NOT EXISTS "email_canonical" text`);
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      const rows: Array<{ id: string; email: string }> = await queryRunner.query(
        `SELECT "id"::text AS "id", "email" FROM "users" WHERE "id" > $1 ORDER BY "id" LIMIT ${BATCH}`,
        [after],
      );
      if (rows.length === 0) break;
      await queryRunner.query(
        `UPDATE "users" SET "email_canonical" = v.canonical
           FROM unnest($1::uuid[], $2::text[]) AS v(id, canonical)
          WHERE "users"."id" = v.id`,
        [rows.map((row) => row.id), rows.map((row) => canonicalEmail(row.email))],
      );
      after = rows[rows.length - 1].id;
    }
    const collisions: Array<{ ids: string[] }> = await queryRunner.query(
      `SELECT array_agg("id"::text ORDER BY "created_at", "id") AS "ids"
         FROM "users" GROUP BY "email_canonical" HAVING count(*) > 1 ORDER BY min("created_at")`,
    );
    if (collisions.length > 0) {
      const groups = collisions.map((group) => group.ids.join(', ')).join('; ');
      throw new Error(
        `CanonicalEmails: ${collisions.length} group(s) of accounts share one email address in different spellings ` +
          `and would be merged: ${groups} (user ids, oldest first). Nothing was changed; resolve each group ` +
          `(docs/operations.md#canonical-email-addresses) and run the migrations again.`,
      );
    }
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "email_canonical" SET NOT NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "users_email_canonical_key" ON "users" ("email_canonical")`);
    await queryRunner.query(`DROP INDEX IF EXISTS "users_email_lower_key"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    // Fails if two accounts now differ only in a way lower() does not see (İ and i on C.UTF-8).
    await queryRunner.query(`CREATE UNIQUE INDEX "users_email_lower_key" ON "users" (lower("email"))`);
    await queryRunner.query(`DROP INDEX "users_email_canonical_key"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "email_canonical"`);
  }
}
