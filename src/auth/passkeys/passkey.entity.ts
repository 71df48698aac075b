import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

/**
 * A passkey (WebAuthn credential) of a user: its public key and what the authenticator said of
 * itself. No secret: the private key never leaves the authenticator.
 */
@Entity({ name: 'passkeys' })
@Index('passkeys_user_id_idx', ['userId'])
@Index('passkeys_credential_id_key', ['credentialId'], { unique: true })
export class PasskeyEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid', primaryKeyConstraintName: 'passkeys_pkey' })
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'passkeys_user_id_fkey' })
  user?: Relation<UserEntity>;

  /** The credential id, base64url, as authenticators and browsers name it. */
  @Column({ name: 'credential_id', type: 'varchar', length: 1400 })
  credentialId!: string;

  /** COSE public key. */
  @Column({ name: 'public_key', type: 'bytea' })
  publicKey!: Buffer;

  /** The signature counter last seen: 0 for authenticators that keep none (synced passkeys). */
  @Column({ name: 'counter', type: 'bigint', default: 0 })
  counter!: string;

  @Column({ name: 'transports', type: 'text', array: true, default: () => "'{}'" })
  transports!: string[];

  /** `multiDevice` (may be synced, e.g. across a user's phones) or `singleDevice`. */
  @Column({ name: 'device_type', type: 'varchar', length: 16 })
  deviceType!: string;

  @Column({ name: 'backed_up', type: 'boolean' })
  backedUp!: boolean;

  @Column({ name: 'name', type: 'varchar', length: 100 })
  name!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
