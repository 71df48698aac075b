import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** Denylist of single tokens, by `jti`; a row is useless once the token has expired, and is purged then. */
@Entity({ name: 'revoked_tokens' })
@Index('revoked_tokens_expires_at_idx', ['expiresAt'])
export class RevokedTokenEntity {
  @PrimaryColumn({ name: 'jti', type: 'uuid' })
  jti!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  /** The token's own `exp`. */
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz' })
  revokedAt!: Date;

  @Column({ name: 'reason', type: 'varchar', length: 64 })
  reason!: string;
}
