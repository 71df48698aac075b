import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox's send order as an index: password-reset (and any other) mails before verification
 * mails, then the link that expires first (src/auth/mail/mail-outbox.repository.ts, SEND_ORDER).
 * A claim walks it and stops at the first due rows, however many mails wait.
 */
export class PrioritiseMailOutbox1765200000000 implements MigrationInterface {
  name = 'PrioritiseMailOutbox1765200000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "mail_outbox_send_order_idx" ON "mail_outbox" ((("purpose" = 'email_verification')), "not_after", "id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "mail_outbox_send_order_idx"`);
  }
}
