import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

/**
 * A sign-in at a provider that a bearer client turns into its login answer
 * (`POST /auth/oidc/exchange {code}`): only the code's SHA-256, single use, 60 seconds, and only
 * from the browser that started the sign-in (its binding cookie): a code sent to someone else
 * signs nobody into the sender's account.
 */
@Entity({ name: 'oidc_login_codes' })
@Index('oidc_login_codes_expires_at_idx', ['expiresAt'])
export class OidcLoginCodeEntity {
  @PrimaryColumn({ name: 'code_hash', type: 'char', length: 64, primaryKeyConstraintName: 'oidc_login_codes_pkey' })
  codeHash!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'oidc_login_codes_user_id_fkey' })
  user?: Relation<UserEntity>;

  @Column({ name: 'provider', type: 'varchar', length: 32 })
  provider!: string;

  /** The SHA-256 of the binding cookie of the browser that started the sign-in: only it may exchange the code. */
  @Column({ name: 'binding_hash', type: 'char', length: 64 })
  bindingHash!: string;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
