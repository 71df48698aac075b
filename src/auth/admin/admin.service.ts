import { BadRequestException, ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import { canonicalEmail } from '../accounts/email-address.js';
import type { ClientInfo } from '../common/client-info.js';
import type { Clock } from '../common/clock.interface.js';
import { MfaService } from '../mfa/mfa.service.js';
import { type EventContext, RevocationService } from '../revocation/revocation.service.js';
import { ADMIN_ROLE } from '../roles/role-names.js';
import { LAST_ADMIN_REFUSAL, type RoleChange, RolesService } from '../roles/roles.service.js';
import { RolesRepository } from '../roles/roles.repository.js';
import { pageOf } from '../security-events/activity.service.js';
import { AuthEventRepository, type StoredEvent } from '../security-events/auth-event.repository.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { SessionRepository } from '../sessions/session.repository.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { AdminRepository, type AdminUserRow, type UserFactors } from './admin.repository.js';

/** Users a page of the admin's search holds. */
export const ADMIN_USERS_PAGE_SIZE = 50;
/** Events a page of the admin's event reading holds. */
export const ADMIN_EVENTS_PAGE_SIZE = 50;
/** Events a user's page shows. */
export const ADMIN_USER_EVENTS = 20;

export interface AdminUser {
  id: string;
  email: string;
  emailVerified: boolean;
  roles: string[];
  /** Set while the account is suspended (a ban). */
  suspendedUntil: string | null;
  createdAt: string;
}

export interface AdminEvent {
  id: string;
  type: string;
  at: string;
  userId: string | null;
  actor: { kind: 'user' | 'admin' | 'system'; id: string | null };
  sessionId: string | null;
  ip: string | null;
  network: string | null;
  deviceName: string | null;
  details: Record<string, unknown>;
}

export interface AdminUserDetail extends AdminUser {
  factors: UserFactors;
  sessions: Array<{
    id: string;
    deviceName: string | null;
    userAgent: string | null;
    ip: string | null;
    createdAt: string;
    lastUsedAt: string;
  }>;
  /** The last 20, newest first. */
  events: AdminEvent[];
}

/** The admin's own request: who, from where (every action is recorded with them as its actor). */
export type AdminActor = Pick<AuthenticatedUser, 'userId'> & Pick<ClientInfo, 'ip'>;

/**
 * The admin API's rules (`/auth/admin`, admins only): what an admin may read and do to users, each
 * action recorded with the admin as its actor. An admin cannot lock themselves out here: no ban,
 * deletion or removal of their own admin role (another admin, or the CLI, can), and no change
 * leaves the module without an admin.
 */
@Injectable()
export class AdminService {
  constructor(
    private readonly admin: AdminRepository,
    private readonly roles: RolesService,
    private readonly rolesRepository: RolesRepository,
    private readonly revocation: RevocationService,
    private readonly mfa: MfaService,
    private readonly sessions: SessionRepository,
    private readonly store: AuthEventRepository,
    private readonly events: SecurityEventsService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  async searchUsers(
    query: string | undefined,
    cursor: unknown,
  ): Promise<{ users: AdminUser[]; nextCursor: string | null }> {
    const prefix = canonicalEmail((query ?? '').trim());
    const after = cursor === undefined ? null : parseUserCursor(cursor);
    const rows = await this.admin.search(prefix, after, ADMIN_USERS_PAGE_SIZE + 1);
    const shown = rows.slice(0, ADMIN_USERS_PAGE_SIZE);
    const last = shown.at(-1);
    return {
      users: shown.map(userView),
      nextCursor:
        rows.length > ADMIN_USERS_PAGE_SIZE && last
          ? Buffer.from(JSON.stringify([last.emailCanonical, last.id])).toString('base64url')
          : null,
    };
  }

  async user(id: string): Promise<AdminUserDetail> {
    const found = await this.admin.user(id);
    if (!found) throw new NotFoundException('User not found');
    const [sessions, events] = await Promise.all([
      this.sessions.listActive(id, this.clock.now()),
      this.store.list({ userId: id }, { before: null, limit: ADMIN_USER_EVENTS }),
    ]);
    return {
      ...userView(found),
      factors: found.factors,
      sessions: sessions.map((session) => ({
        id: session.id,
        deviceName: session.deviceName,
        userAgent: session.userAgent,
        ip: session.ip,
        createdAt: session.createdAt.toISOString(),
        lastUsedAt: session.lastUsedAt.toISOString(),
      })),
      events: events.map(eventView),
    };
  }

  /** Suspends the account until `until` and ends every session (as `revoke-user --until`). */
  async ban(actor: AdminActor, id: string, until: Date): Promise<void> {
    if (id === actor.userId) throw new ConflictException('You cannot ban yourself');
    if (Number.isNaN(until.getTime())) throw new BadRequestException('until must be a date-time');
    if (until.getTime() <= this.clock.now().getTime()) throw new BadRequestException('until must be in the future');
    if (!(await this.revocation.revokeAllForUser(id, { until }, by(actor))))
      throw new NotFoundException('User not found');
  }

  /** Lifts a running suspension (204 also when there was none: the account is not suspended either way). */
  async unban(actor: AdminActor, id: string): Promise<void> {
    const events = this.events.change();
    const lifted = await this.admin.transaction(async (transaction) => {
      if (!(await this.admin.liftBanIn(transaction, id, this.clock.now()))) return false;
      await events.write(transaction, 'user_unbanned', { userId: id, ...by(actor) });
      return true;
    });
    if (lifted) return events.announce();
    if (!(await this.admin.exists(id))) throw new NotFoundException('User not found');
  }

  /** Ends every session of the user on every instance (logout-all, by the admin). */
  async signOut(actor: AdminActor, id: string): Promise<void> {
    const ended = await this.revocation.revokeAllForUser(id, { reason: 'admin_sign_out' }, by(actor));
    if (!ended) throw new NotFoundException('User not found');
  }

  /**
   * Removes the user's authenticator app and recovery codes (as the CLI's `mfa reset`) and ends
   * every session: whoever held one signs in again. Passkeys stay (each is a way in of its own).
   */
  async removeSecondFactor(actor: AdminActor, id: string): Promise<void> {
    if (!(await this.admin.exists(id))) throw new NotFoundException('User not found');
    await this.mfa.reset(id, { kind: 'admin', id: actor.userId });
    await this.revocation.revokeAllForUser(id, { reason: 'mfa_reset' }, by(actor));
  }

  async changeRoles(actor: AdminActor, id: string, change: RoleChange): Promise<{ roles: string[] }> {
    if ((change.add?.length ?? 0) + (change.remove?.length ?? 0) === 0) {
      throw new BadRequestException('Give roles to add or to remove');
    }
    if (id === actor.userId && change.remove?.includes(ADMIN_ROLE)) {
      throw new ConflictException('You cannot remove your own admin role');
    }
    return { roles: await this.roles.change(id, change, by(actor)) };
  }

  /** Deletes the account (as the user's own deletion does), not the admin's own, nor the last admin. */
  async deleteUser(actor: AdminActor, id: string): Promise<void> {
    if (id === actor.userId) throw new ConflictException('You cannot delete your own account here');
    const deleted = await this.revocation.deleteUser(id, by(actor), async (transaction) => {
      // Two admins deleting each other at once: one of them stays.
      if ((await this.rolesRepository.otherAdminsIn(transaction, id)) === 0) {
        throw new ConflictException(LAST_ADMIN_REFUSAL);
      }
    });
    if (!deleted) throw new NotFoundException('User not found');
  }

  async eventsOf(
    filter: { userId?: string; type?: string },
    cursor: unknown,
  ): Promise<{ events: AdminEvent[]; nextCursor: string | null }> {
    const { rows, nextCursor } = await pageOf(ADMIN_EVENTS_PAGE_SIZE, cursor, (page) => this.store.list(filter, page));
    return { events: rows.map(eventView), nextCursor };
  }
}

function by(actor: AdminActor): EventContext {
  return { actor: { kind: 'admin', id: actor.userId }, ip: actor.ip };
}

function userView(row: AdminUserRow): AdminUser {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.emailVerifiedAt !== null,
    roles: row.roles,
    suspendedUntil: row.suspendedUntil?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}

function eventView(event: StoredEvent): AdminEvent {
  return {
    id: event.id,
    type: event.type,
    at: event.at.toISOString(),
    userId: event.userId,
    actor: { kind: event.actorKind, id: event.actorId },
    sessionId: event.sessionId,
    ip: event.ip,
    network: event.network,
    deviceName: event.deviceName,
    details: event.details,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function parseUserCursor(cursor: unknown): { email: string; id: string } {
  const invalid = () => new BadRequestException('Invalid cursor');
  if (typeof cursor !== 'string' || cursor.length > 700 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    parsed[0].length > 320 ||
    parsed[0].includes('\u0000') ||
    typeof parsed[1] !== 'string' ||
    !UUID.test(parsed[1])
  ) {
    throw invalid();
  }
  return { email: parsed[0], id: parsed[1] };
}
