import { Check, Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Who caused an event: the user themself (or a client acting for them), an admin, or the module itself. */
export const EVENT_ACTOR_KINDS = ['user', 'admin', 'system'] as const;
export type EventActorKind = (typeof EVENT_ACTOR_KINDS)[number];

/**
 * One security event, as the event store keeps it (SecurityEventsService writes it; users read
 * their own through `GET /auth/activity`, admins every one). Never a secret, token, password or
 * code: `details` holds a reason, a ban's end, a role, the methods of a sign-in. `user_id` has no
 * foreign key: the record of a deleted account outlives it, until the retention purge.
 */
@Entity({ name: 'auth_events' })
@Check('auth_events_actor_kind_check', `"actor_kind" IN ('user', 'admin', 'system')`)
// (user_id, at DESC, id DESC): a user's activity, newest first (created by the migration; the
// entity cannot say DESC).
@Index('auth_events_user_id_at_idx', { synchronize: false })
@Index('auth_events_at_idx', ['at', 'id'])
// (user_id, device_name, network, at) WHERE type = 'login_succeeded': the new-device check.
@Index('auth_events_sign_ins_idx', { synchronize: false })
export class AuthEventEntity {
  @PrimaryGeneratedColumn('identity', {
    name: 'id',
    type: 'bigint',
    generatedIdentity: 'ALWAYS',
    primaryKeyConstraintName: 'auth_events_pkey',
  })
  id!: string;

  @Column({ name: 'type', type: 'varchar', length: 64 })
  type!: string;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  @Column({ name: 'actor_kind', type: 'varchar', length: 8 })
  actorKind!: EventActorKind;

  /** The user or admin who acted; null for the system. */
  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId!: string | null;

  @Column({ name: 'session_id', type: 'uuid', nullable: true })
  sessionId!: string | null;

  @Column({ name: 'ip', type: 'varchar', length: 64, nullable: true })
  ip!: string | null;

  /** The client's network: its IPv4 /24 or IPv6 /48 (what a new-device alert compares). */
  @Column({ name: 'network', type: 'varchar', length: 64, nullable: true })
  network!: string | null;

  @Column({ name: 'device_name', type: 'varchar', length: 100, nullable: true })
  deviceName!: string | null;

  @Column({ name: 'details', type: 'jsonb', default: () => `'{}'` })
  details!: Record<string, unknown>;

  @Column({ name: 'at', type: 'timestamptz' })
  at!: Date;
}
