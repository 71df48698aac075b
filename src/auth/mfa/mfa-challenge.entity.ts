import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

/**
 * The second step of a sign-in whose password was right (`mfaToken`): only the token's SHA-256 is
 * kept. Deleted when it succeeds; refused after its fifth wrong code (the row kept until the purge deletes it, once expired).
 */
@Entity({ name: 'mfa_challenges' })
@Index('mfa_challenges_user_id_idx', ['userId'])
@Index('mfa_challenges_expires_at_idx', ['expiresAt'])
export class MfaChallengeEntity {
  @PrimaryColumn({ name: 'token_hash', type: 'char', length: 64, primaryKeyConstraintName: 'mfa_challenges_pkey' })
  tokenHash!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'mfa_challenges_user_id_fkey' })
  user?: Relation<UserEntity>;

  /** The login throttle's account key of the first step: wrong codes are failed logins of that account. */
  @Column({ name: 'account_key', type: 'char', length: 64 })
  accountKey!: string;

  /**
   * SHA-256 of the password hash the password was verified against: a password changed (or reset)
   * between the two steps voids the challenge, as it voids a login in flight.
   */
  @Column({ name: 'password_fingerprint', type: 'char', length: 64 })
  passwordFingerprint!: string;

  /** The device name the first step asked for. */
  @Column({ name: 'device_name', type: 'varchar', length: 100, nullable: true })
  deviceName!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  /** The first step's methods (RFC 8176): `pwd`, or a passkey's that did not verify the user. */
  @Column({ name: 'first_factor', type: 'text', array: true, default: () => "'{pwd}'" })
  firstFactor!: string[];

  @Column({ name: 'failed_attempts', type: 'integer', default: 0 })
  failedAttempts!: number;
}
