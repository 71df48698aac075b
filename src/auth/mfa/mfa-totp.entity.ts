import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

/**
 * A user's authenticator app (TOTP, RFC 6238): one per user. Pending (`enabled_at` null) from
 * setup until a code from it turns it on. The secret is kept encrypted (MfaSecrets), never in
 * clear; `last_used_step` is the time step of the last code accepted, so that no code is accepted
 * twice (RFC 6238, section 5.2).
 */
@Entity({ name: 'mfa_totp' })
export class MfaTotpEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid', primaryKeyConstraintName: 'mfa_totp_pkey' })
  userId!: string;

  @OneToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'mfa_totp_user_id_fkey' })
  user?: Relation<UserEntity>;

  /** AES-256-GCM, bound to the user (MfaSecrets.encryptTotpSecret). */
  @Column({ name: 'secret_encrypted', type: 'text' })
  secretEncrypted!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'enabled_at', type: 'timestamptz', nullable: true })
  enabledAt!: Date | null;

  @Column({ name: 'last_used_step', type: 'bigint', nullable: true })
  lastUsedStep!: string | null;
}
