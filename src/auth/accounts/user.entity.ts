import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

@Entity({ name: 'users' })
@Index('users_email_canonical_key', ['emailCanonical'], { unique: true })
@Index('users_tokens_valid_after_idx', ['tokensValidAfter'], { where: '"tokens_valid_after" IS NOT NULL' })
export class UserEntity {
  @PrimaryGeneratedColumn('uuid', { name: 'id' })
  id!: string;

  /** The address as the user gave it (trimmed): where mail goes, what is shown. */
  @Column({ name: 'email', type: 'varchar', length: 254 })
  email!: string;

  /**
   * The address's one identity (canonicalEmail: NFC, Unicode lower case, ASCII domain), unique.
   * Every lookup and every limit compares this, never `email` and never PostgreSQL's `lower()`.
   */
  @Column({ name: 'email_canonical', type: 'text' })
  emailCanonical!: string;

  /** Null for an account without a password (its way in: a passkey, or another provider). */
  @Column({ name: 'password_hash', type: 'text', nullable: true })
  passwordHash!: string | null;

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

  /** What the user may do beyond their own account (`admin`…): the `roles` claim of their tokens. */
  @Column({ name: 'roles', type: 'text', array: true, default: () => `'{}'` })
  roles!: string[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
