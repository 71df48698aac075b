import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryGeneratedColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

/**
 * A mail waiting to be sent (MailOutboxService drains it, with retries). Deleted once sent, or
 * once `not_after` (the expiry of the link it carries) has passed: the link in its body must not
 * outlive its purpose.
 */
@Entity({ name: 'mail_outbox' })
@Index('mail_outbox_next_attempt_at_idx', ['nextAttemptAt'])
// The send order (an expression index, created by migration PrioritiseMailOutbox).
@Index('mail_outbox_send_order_idx', { synchronize: false })
@Index('mail_outbox_user_id_purpose_idx', ['userId', 'purpose'])
export class MailOutboxEntity {
  @PrimaryGeneratedColumn('identity', {
    name: 'id',
    type: 'bigint',
    generatedIdentity: 'ALWAYS',
    primaryKeyConstraintName: 'mail_outbox_pkey',
  })
  id!: string;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'mail_outbox_user_id_fkey' })
  user?: Relation<UserEntity>;

  @Column({ name: 'purpose', type: 'varchar', length: 20 })
  purpose!: string;

  @Column({ name: 'recipient', type: 'varchar', length: 254 })
  recipient!: string;

  @Column({ name: 'subject', type: 'text' })
  subject!: string;

  @Column({ name: 'body_text', type: 'text' })
  bodyText!: string;

  @Column({ name: 'body_html', type: 'text', nullable: true })
  bodyHtml!: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'next_attempt_at', type: 'timestamptz' })
  nextAttemptAt!: Date;

  @Column({ name: 'not_after', type: 'timestamptz' })
  notAfter!: Date;

  @Column({ name: 'attempts', type: 'integer', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;
}
