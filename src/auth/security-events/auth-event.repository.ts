import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool, type TransactionStatements } from '../common/driver-pool.js';
import { MAX_DEVICE_NAME_CHARS, truncateCodePoints } from '../common/client-address.js';
import type { SecurityEvent } from './security-event.interface.js';

/**
 * SQL: the network an address (an expression of a valid IP address or NULL) belongs to for the
 * new-device check: its IPv4 /24 or IPv6 /48, as text (`203.0.113.0/24`, `2001:db8:1::/48`).
 */
export function alertNetwork(ipExpression: string): string {
  // Only what looks like an address is cast: a row from before addresses were normalised (an
  // IPv6 zone, `fe80::1%eth0`) must not fail a sign-in's statement; it is no known network.
  return `CASE WHEN (${ipExpression}) ~ '^[0-9A-Fa-f:.]{2,45}$' THEN
            network(set_masklen((${ipExpression})::inet,
              CASE family((${ipExpression})::inet) WHEN 4 THEN 24 ELSE 48 END))::text END`;
}

/** A page of events, newest first; `before` is where the previous page stopped. */
export interface EventPage {
  before: EventCursor | null;
  limit: number;
}

/** A position in the store, newest first: the event's time and id. */
export interface EventCursor {
  at: Date;
  id: string;
}

/** An event as the store returns it. */
export interface StoredEvent {
  id: string;
  type: string;
  userId: string | null;
  actorKind: 'user' | 'admin' | 'system';
  actorId: string | null;
  sessionId: string | null;
  ip: string | null;
  network: string | null;
  /** The event's device name, else that of the session it came from (while that row is kept). */
  deviceName: string | null;
  details: Record<string, unknown>;
  at: Date;
}

/** The JSON rows one INSERT takes (jsonb_to_recordset), from SecurityEvents. */
export function eventRows(events: readonly SecurityEvent[]): string {
  return JSON.stringify(
    events.map((event) => {
      const actorKind = event.actor?.kind ?? (event.userId ? 'user' : 'system');
      const actorId = event.actor ? (event.actor.id ?? null) : event.userId;
      return {
        type: event.type,
        user_id: event.userId,
        actor_kind: actorKind,
        actor_id: actorId,
        session_id: event.sessionId ?? null,
        ip: event.ip ?? null,
        device_name: event.deviceName ? truncateCodePoints(event.deviceName, MAX_DEVICE_NAME_CHARS) : null,
        details: {
          ...(event.reason ? { reason: event.reason } : {}),
          ...(event.until ? { until: event.until.toISOString() } : {}),
          ...event.details,
        },
        at: event.at.toISOString(),
      };
    }),
  );
}

/**
 * SQL that writes the events of `$<parameter>` (eventRows' JSON): an INSERT, usable as a statement
 * or as a data-modifying CTE of another statement (the sign-in's).
 */
export function insertEventsSql(parameter: string): string {
  return `INSERT INTO auth_events (type, user_id, actor_kind, actor_id, session_id, ip, network, device_name, details, at)
          SELECT e.type, e.user_id, e.actor_kind, e.actor_id, e.session_id, e.ip, ${alertNetwork('e.ip')},
                 e.device_name, e.details, e.at
            FROM jsonb_to_recordset(${parameter}::jsonb) AS e(type text, user_id uuid, actor_kind text, actor_id uuid,
                 session_id uuid, ip text, device_name text, details jsonb, at timestamptz)`;
}

const SELECT_EVENTS = `SELECT e.id::text AS id, e.type, e.user_id AS "userId", e.actor_kind AS "actorKind",
         e.actor_id AS "actorId", e.session_id AS "sessionId", e.ip, e.network,
         COALESCE(e.device_name, s.device_name) AS "deviceName", e.details, e.at
    FROM auth_events e LEFT JOIN sessions s ON s.id = e.session_id`;

/** The event store's SQL (auth_events). */
@Injectable()
export class AuthEventRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Writes events inside a change's transaction: they commit with it, or not at all. */
  async insertIn(transaction: TransactionStatements, events: readonly SecurityEvent[]): Promise<void> {
    if (events.length > 0) await transaction.query(insertEventsSql('$1'), [eventRows(events)]);
  }

  /** Writes events in a statement of their own (an event that records no change: a failed sign-in). */
  async insert(events: readonly SecurityEvent[]): Promise<void> {
    if (events.length > 0) await driverPool(this.dataSource).query(insertEventsSql('$1'), [eventRows(events)]);
  }

  /** One user's events of the given types, newest first. */
  async listForUser(userId: string, types: readonly string[], page: EventPage): Promise<StoredEvent[]> {
    const { rows } = await driverPool(this.dataSource).query<StoredEvent>(
      `${SELECT_EVENTS}
        WHERE e.user_id = $1 AND e.type = ANY($2::text[])
          AND ($3::timestamptz IS NULL OR (e.at, e.id) < ($3::timestamptz, $4::bigint))
        ORDER BY e.at DESC, e.id DESC
        LIMIT $5`,
      [userId, types, page.before?.at ?? null, page.before?.id ?? null, page.limit],
    );
    return rows;
  }

  /** Every event, or one user's, or one type's, newest first (the admins' reading). */
  async list(filter: { userId?: string; type?: string }, page: EventPage): Promise<StoredEvent[]> {
    const { rows } = await driverPool(this.dataSource).query<StoredEvent>(
      `${SELECT_EVENTS}
        WHERE ($1::uuid IS NULL OR e.user_id = $1) AND ($2::text IS NULL OR e.type = $2)
          AND ($3::timestamptz IS NULL OR (e.at, e.id) < ($3::timestamptz, $4::bigint))
        ORDER BY e.at DESC, e.id DESC
        LIMIT $5`,
      [filter.userId ?? null, filter.type ?? null, page.before?.at ?? null, page.before?.id ?? null, page.limit],
    );
    return rows;
  }
}
