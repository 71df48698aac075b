import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

/** One signed-in device: created at login, rotated on refresh, revoked on logout. */
@Entity({ name: 'sessions' })
@Index('sessions_user_id_idx', ['userId'])
@Index('sessions_revoked_at_idx', ['revokedAt'], { where: '"revoked_at" IS NOT NULL' })
// When the session ended (expired, idle or revoked), for the purge: an expression index, created
// by migration 1764300000000 (CONCURRENTLY), not by TypeORM.
@Index('sessions_ended_at_idx', { synchronize: false })
export class SessionEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid' })
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'sessions_user_id_fkey' })
  user?: Relation<UserEntity>;

  @Column({ name: 'device_name', type: 'varchar', length: 100, nullable: true })
  deviceName!: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent!: string | null;

  @Column({ name: 'ip', type: 'varchar', length: 64, nullable: true })
  ip!: string | null;

  /** Login time. */
  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz' })
  lastUsedAt!: Date;

  /** Absolute end: login time plus the session's maximum age; refreshes never move it. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  /** SHA-256 (hex) of the current refresh token; the token itself is never stored. */
  @Column({ name: 'refresh_token_hash', type: 'char', length: 64 })
  refreshTokenHash!: string;

  /** SHA-256 of the refresh token rotated out last, kept to tell a racing client from a thief. */
  @Column({ name: 'previous_refresh_token_hash', type: 'char', length: 64, nullable: true })
  previousRefreshTokenHash!: string | null;

  /** When the current refresh token replaced the previous one (start of the reuse grace). */
  @Column({ name: 'refresh_rotated_at', type: 'timestamptz', nullable: true })
  refreshRotatedAt!: Date | null;

  /** Expiry of the current refresh token: the session dies when it is idle past this. */
  @Column({ name: 'refresh_expires_at', type: 'timestamptz' })
  refreshExpiresAt!: Date;

  /**
   * When the user last authenticated in this session: the sign-in (module clock), or a later
   * re-authentication. The tokens' `auth_time`. Null on sessions opened before 0.4: their sign-in.
   */
  @Column({ name: 'authenticated_at', type: 'timestamptz', nullable: true })
  authenticatedAt!: Date | null;

  /** How the user authenticated (RFC 8176 values): the tokens' `amr`. Null before 0.4: a password. */
  @Column({ name: 'amr', type: 'text', array: true, nullable: true })
  amr!: string[] | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 64, nullable: true })
  revokedReason!: string | null;
}
