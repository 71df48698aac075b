import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A signing key can be revoked (`keys revoke <kid>`, KeyRotationService.revoke): from `revoked_at`
 * on, nothing it signed verifies anywhere, and it never signs again. The row stays (and says so)
 * until the window after its revocation has passed, then retirement deletes it like any other.
 */
export class RevokeSigningKeys1765100000000 implements MigrationInterface {
  name = 'RevokeSigningKeys1765100000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "signing_keys" ADD "revoked_at" TIMESTAMP WITH TIME ZONE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "signing_keys" DROP COLUMN "revoked_at"`);
  }
}
