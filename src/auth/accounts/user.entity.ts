import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'users' })
// Case-insensitive uniqueness is a functional index on lower(email), created by the migration.
@Index('users_email_lower_key', { synchronize: false })
@Index('users_tokens_valid_after_idx', ['tokensValidAfter'], { where: '"tokens_valid_after" IS NOT NULL' })
export class UserEntity {
  @PrimaryGeneratedColumn('uuid', { name: 'id' })
  id!: string;

  @Column({ name: 'email', type: 'varchar', length: 254 })
  email!: string;

  @Column({ name: 'password_hash', type: 'text' })
  passwordHash!: string;

  /**
   * Cut-off, on the database's clock: every session signed in before this instant is revoked, with
   * all its tokens (they carry the session's sign-in time, which refreshing never moves). One row
   * update revokes them all; it never moves back.
   */
  @Column({ name: 'tokens_valid_after', type: 'timestamptz', nullable: true })
  tokensValidAfter!: Date | null;

  /** Login answers 403 until then (a timed ban). */
  @Column({ name: 'suspended_until', type: 'timestamptz', nullable: true })
  suspendedUntil!: Date | null;

  /** When the email address was confirmed (verification link, or a password reset by mail). */
  @Column({ name: 'email_verified_at', type: 'timestamptz', nullable: true })
  emailVerifiedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
