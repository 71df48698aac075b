import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, type Relation } from 'typeorm';
import { UserEntity } from '../accounts/user.entity.js';

/**
 * An account at an OpenID Connect provider linked to a user: the provider's `sub` for its id.
 * One per provider and subject; deleted with the account.
 */
@Entity({ name: 'user_identities' })
@Index('user_identities_provider_subject_key', ['provider', 'subject'], { unique: true })
@Index('user_identities_user_id_idx', ['userId'])
export class UserIdentityEntity {
  @PrimaryColumn({ name: 'id', type: 'uuid', primaryKeyConstraintName: 'user_identities_pkey' })
  id!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => UserEntity, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id', foreignKeyConstraintName: 'user_identities_user_id_fkey' })
  user?: Relation<UserEntity>;

  /** The provider's id in the module's options (`google`). */
  @Column({ name: 'provider', type: 'varchar', length: 32 })
  provider!: string;

  /** The provider's `sub` claim: stable, unique at that provider. */
  @Column({ name: 'subject', type: 'varchar', length: 255 })
  subject!: string;

  /** The address the provider gave when it was linked (shown on the account page), if any. */
  @Column({ name: 'email', type: 'text', nullable: true })
  email!: string | null;

  @Column({ name: 'linked_at', type: 'timestamptz' })
  linkedAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
