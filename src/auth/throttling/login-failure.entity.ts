import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One failed (or still running) login attempt, counted per account and client IP for throttling.
 * The account is kept as a SHA-256 of the normalised email: attempts name addresses that may not
 * belong to any user, and those need not be stored in clear.
 */
@Entity({ name: 'login_failures' })
@Index('login_failures_account_ip_idx', ['accountKey', 'ip', 'failedAt'])
@Index('login_failures_ip_idx', ['ip', 'failedAt'])
@Index('login_failures_failed_at_idx', ['failedAt'])
export class LoginFailureEntity {
  @PrimaryGeneratedColumn('identity', { name: 'id', type: 'bigint', generatedIdentity: 'ALWAYS' })
  id!: string;

  @Column({ name: 'account_key', type: 'char', length: 64 })
  accountKey!: string;

  @Column({ name: 'ip', type: 'varchar', length: 64 })
  ip!: string;

  @Column({ name: 'failed_at', type: 'timestamptz' })
  failedAt!: Date;
}
