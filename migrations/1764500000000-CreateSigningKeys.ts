import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Keys that sign tokens (rotation, asymmetric algorithms, JWKS); see src/auth/keys/signing-key.entity.ts. */
export class CreateSigningKeys1764500000000 implements MigrationInterface {
  name = 'CreateSigningKeys1764500000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "signing_keys" (
        "kid" character varying(64) NOT NULL,
        "algorithm" character varying(8) NOT NULL,
        "public_key" text,
        "private_key_encrypted" text NOT NULL,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "activates_at" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "signing_keys_algorithm_check" CHECK ("algorithm" IN ('HS256', 'HS384', 'HS512', 'EdDSA', 'ES256')),
        CONSTRAINT "signing_keys_public_key_check" CHECK (("algorithm" LIKE 'HS%') = ("public_key" IS NULL)),
        CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("kid")
      )`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "signing_keys"`);
  }
}
