import { Check, Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * A key that signs or signed tokens. The private key (or HMAC secret) is kept only encrypted
 * (KeyEncryption: AES-256-GCM under the key-encryption secret); the public key in the clear, as
 * SPKI PEM. A key signs from `activates_at` until a newer key activates, and verifies until the
 * last token it signed has expired; then `keys retire` (or the purge job) deletes the row. A key
 * revoked (`revoked_at`, `keys revoke`) neither signs nor verifies from then on, on any instance.
 */
@Entity({ name: 'signing_keys' })
@Check('signing_keys_algorithm_check', `"algorithm" IN ('HS256', 'HS384', 'HS512', 'EdDSA', 'ES256')`)
@Check('signing_keys_public_key_check', `("algorithm" LIKE 'HS%') = ("public_key" IS NULL)`)
export class SigningKeyEntity {
  @PrimaryColumn({ name: 'kid', type: 'varchar', length: 64 })
  kid!: string;

  @Column({ name: 'algorithm', type: 'varchar', length: 8 })
  algorithm!: string;

  @Column({ name: 'public_key', type: 'text', nullable: true })
  publicKey!: string | null;

  @Column({ name: 'private_key_encrypted', type: 'text' })
  privateKeyEncrypted!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'activates_at', type: 'timestamptz' })
  activatesAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
