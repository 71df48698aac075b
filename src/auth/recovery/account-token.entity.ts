import { Check, Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

export const ACCOUNT_TOKEN_PURPOSES = ['password_reset', 'email_verification', 'secure_account'] as const;
export type AccountTokenPurpose = (typeof ACCOUNT_TOKEN_PURPOSES)[number];

/**
 * A single-use token sent by mail (password reset, email verification, the "This wasn't me" link
 * of a new-device alert): only its SHA-256 is kept.
 * One per user and purpose: asking again replaces the earlier one. Deleted when used; purged once
 * expired.
 */
@Entity({ name: 'account_tokens' })
@Check('account_tokens_purpose_check', `"purpose" IN ('password_reset', 'email_verification', 'secure_account')`)
@Index('account_tokens_user_id_purpose_key', ['userId', 'purpose'], { unique: true })
@Index('account_tokens_expires_at_idx', ['expiresAt'])
export class AccountTokenEntity {
  @PrimaryColumn({ name: 'token_hash', type: 'char', length: 64, primaryKeyConstraintName: 'account_tokens_pkey' })
  tokenHash!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'account_tokens_user_id_fkey' })
  user?: Relation<UserEntity>;

  @Column({ name: 'purpose', type: 'varchar', length: 20 })
  purpose!: AccountTokenPurpose;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
