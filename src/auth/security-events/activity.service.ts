import { BadRequestException, Injectable } from '@nestjs/common';
import { AuthEventRepository, type EventCursor, type StoredEvent } from './auth-event.repository.js';
import type { SecurityEventType } from './security-event.interface.js';

/** Events a page of activity holds. */
export const ACTIVITY_PAGE_SIZE = 20;

/**
 * The event types users see of their own account (`GET /auth/activity`): sign-ins and failed
 * ones, password and factor changes, sessions ended, bans, roles. Not the module's bookkeeping
 * (mails asked for, throttling, a passkey's counter) nor the sign-in's details already told by
 * `login_succeeded` (`passkey_login`, `oidc_login`).
 */
export const ACTIVITY_TYPES: readonly SecurityEventType[] = [
  'user_registered',
  'login_succeeded',
  'login_failed',
  'mfa_challenge_failed',
  'refresh_reuse_detected',
  'password_changed',
  'password_reset',
  'email_verified',
  'mfa_enabled',
  'mfa_disabled',
  'recovery_codes_regenerated',
  'recovery_code_used',
  'passkey_added',
  'passkey_removed',
  'identity_linked',
  'identity_unlinked',
  'session_revoked',
  'logout_all',
  'user_banned',
  'user_unbanned',
  'roles_changed',
  'new_device_alert',
  'account_secured',
];

/** One event of a user's activity, as `GET /auth/activity` shows it. */
export interface ActivityEvent {
  type: string;
  at: string;
  ip: string | null;
  deviceName: string | null;
  /** True for an event of the session asking. */
  current: boolean;
  /** Why, when the event says (`logout`, `bad_credentials`, `user_banned`…). */
  reason: string | null;
}

export interface ActivityPage {
  events: ActivityEvent[];
  /** Give it as `cursor` for the next (older) page; null on the last. */
  nextCursor: string | null;
}

/** Reads users' own events (the event store). */
@Injectable()
export class ActivityService {
  constructor(private readonly store: AuthEventRepository) {}

  async activity(user: { userId: string; sessionId: string }, cursor: unknown): Promise<ActivityPage> {
    const { rows, nextCursor } = await pageOf(ACTIVITY_PAGE_SIZE, cursor, (page) =>
      this.store.listForUser(user.userId, ACTIVITY_TYPES, page),
    );
    return {
      events: rows.map((event) => ({
        type: event.type,
        at: event.at.toISOString(),
        // An admin's address is theirs, not the user's to see.
        ip: event.actorKind === 'admin' ? null : event.ip,
        deviceName: event.deviceName,
        current: event.sessionId !== null && event.sessionId === user.sessionId,
        reason: typeof event.details.reason === 'string' ? event.details.reason : null,
      })),
      nextCursor,
    };
  }
}

/**
 * One page, newest first: `size` rows after the position `cursor` names (none: from the newest),
 * and the cursor of the next page (read one row more to know there is one). 400 `Invalid cursor`
 * for anything but a cursor this module gave.
 */
export async function pageOf(
  size: number,
  cursor: unknown,
  read: (page: { before: EventCursor | null; limit: number }) => Promise<StoredEvent[]>,
): Promise<{ rows: StoredEvent[]; nextCursor: string | null }> {
  const before = cursor === undefined ? null : parseCursor(cursor);
  const rows = await read({ before, limit: size + 1 });
  const more = rows.length > size;
  const shown = rows.slice(0, size);
  const last = shown.at(-1);
  return { rows: shown, nextCursor: more && last ? formatCursor({ at: last.at, id: last.id }) : null };
}

/** A position as an opaque string: base64url of `<epoch ms>.<id>`. */
export function formatCursor(position: EventCursor): string {
  return Buffer.from(`${position.at.getTime()}.${position.id}`).toString('base64url');
}

export function parseCursor(cursor: unknown): EventCursor {
  const invalid = () => new BadRequestException('Invalid cursor');
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) throw invalid();
  const match = /^(\d{1,15})\.(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  if (!match) throw invalid();
  const at = new Date(Number(match[1]));
  if (Number.isNaN(at.getTime())) throw invalid();
  return { at, id: match[2] };
}
