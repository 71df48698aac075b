import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One counted request of a rate limit other than failed logins (registrations per client IP):
 * `scope` names the limit, `key` the client. Purged once past `expires_at` (its window's end).
 */
@Entity({ name: 'rate_limit_hits' })
@Index('rate_limit_hits_scope_key_idx', ['scope', 'key', 'hitAt'])
@Index('rate_limit_hits_expires_at_idx', ['expiresAt'])
export class RateLimitHitEntity {
  @PrimaryGeneratedColumn('identity', { name: 'id', type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'scope', type: 'varchar', length: 32 })
  scope!: string;

  @Column({ name: 'key', type: 'varchar', length: 64 })
  key!: string;

  @Column({ name: 'hit_at', type: 'timestamptz' })
  hitAt!: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
