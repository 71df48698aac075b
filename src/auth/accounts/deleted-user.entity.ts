import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Tombstone of a deleted account: its sessions are gone with it, so nothing else in the database
 * would tell an instance loading its revocation state that the user's still unexpired access
 * tokens are void. Purged once those tokens have expired.
 */
@Entity({ name: 'deleted_users' })
@Index('deleted_users_deleted_at_idx', ['deletedAt'])
export class DeletedUserEntity {
  @PrimaryColumn({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ name: 'deleted_at', type: 'timestamptz' })
  deletedAt!: Date;
}
