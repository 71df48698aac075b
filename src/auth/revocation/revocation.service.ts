import type { TransactionStatements } from '../common/driver-pool.js';
import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import type { AuthTokenClaims } from '../tokens/jwt-claims.interface.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { RevocationRepository, type RevokedTokenRecord } from './revocation.repository.js';
import { RevocationStateRepository } from './revocation-state.repository.js';
import type { RevocationEvent } from './revocation-events.js';
import { RevocationSyncService } from './revocation-sync.service.js';
import {
  type EventDetails,
  type EventsOfChange,
  SecurityEventsService,
} from '../security-events/security-events.service.js';
import type { SecurityEvent } from '../security-events/security-event.interface.js';

export const REVOCATION_REASONS = {
  logout: 'logout',
  refreshReuse: 'refresh_token_reuse',
  deviceRevoked: 'device_revoked',
  passwordChange: 'password_change',
  accountDeleted: 'account_deleted',
  ban: 'user_banned',
  passwordReset: 'password_reset',
  sessionLimit: 'session_limit',
} as const;

export interface RevokeAllOptions {
  /** Suspend the account until then: login gives 403 until this instant. Past or absent: revoke only. */
  until?: Date;
  /** Why, on the `logout_all` event (`roles_changed`, `account_secured`…); absent: the user asked. */
  reason?: string;
}

/** Who caused a revocation, and from where: on its events. */
export type EventContext = Pick<SecurityEvent, 'actor' | 'ip'>;

/**
 * Ids as the in-memory state keys them (and tokens carry them): lower case. PostgreSQL compares
 * UUIDs in any case, memory compares text: an upper-case id would revoke in the database only.
 */
function canonicalId(id: string): string {
  return id.toLowerCase();
}

/** One `session_revoked` event per session that `revoked` names. */
function endedSessions(userId: string, revoked: RevocationEvent[], reason: string, by: EventContext): EventDetails[] {
  return revoked.flatMap((event) =>
    event.kind === 'sessions' ? event.ids.map((sessionId) => ({ userId, sessionId, reason, ...by })) : [],
  );
}

/**
 * Decides whether a validly signed access token has been revoked, and records revocations.
 * While the revocation state in memory is live, the check is a few Map lookups; for routes marked
 * strict, with the `strictRevocation` option, or while the state is not live, it is one database
 * round trip.
 */
@Injectable()
export class RevocationService {
  private databaseCheckCount = 0;

  constructor(
    private readonly revocations: RevocationRepository,
    private readonly state: RevocationStateRepository,
    private readonly sync: RevocationSyncService,
    private readonly events: SecurityEventsService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /**
   * How many revocation checks this instance answered from the database (strict routes, the
   * `strictRevocation` option, or memory not live). Operators and benchmarks read it to see that
   * ordinary routes are answered from memory.
   */
  get databaseChecks(): number {
    return this.databaseCheckCount;
  }

  /**
   * The in-memory answer, when memory may give it (not a strict check, the listener live): true
   * once the token is known not to be revoked, an exception when it is; false when only the
   * database can tell. Synchronous, so that the guard's common case allocates no promise.
   */
  checkedInMemory(claims: AuthTokenClaims, strict: boolean): boolean {
    if (strict || this.options.strictRevocation || !this.sync.isLive) return false;
    // Expiry was checked already, and no token outlives its session's end.
    if (this.sync.isRevoked(claims)) throw new UnauthorizedException(AuthErrors.revoked);
    return true;
  }

  /** Throws 401 when the access token's jti is denied, its session is revoked or over, or the user's cut-off is later. */
  async assertAccessTokenValid(claims: AuthTokenClaims, check: { strict?: boolean } = {}): Promise<void> {
    if (this.checkedInMemory(claims, check.strict === true)) return;
    this.databaseCheckCount += 1;
    const state = await this.state.findState(claims.jti, claims.sid, claims.sub);
    if (!state || state.tokenRevoked || state.sessionRevokedAt) throw new UnauthorizedException(AuthErrors.revoked);
    if (isSignedInBefore(claims.auth_time_ms, state.tokensValidAfter)) {
      throw new UnauthorizedException(AuthErrors.revoked);
    }
    if (state.sessionExpiresAt.getTime() <= this.clock.now().getTime()) {
      throw new UnauthorizedException(AuthErrors.expired);
    }
  }

  /** Revokes a session and denies the presenting access token itself until it expires. */
  async revokeSessionAndToken(
    userId: string,
    sessionId: string,
    token: RevokedTokenRecord,
    reason: string,
    by: EventContext = {},
  ): Promise<boolean> {
    [userId, sessionId] = [canonicalId(userId), canonicalId(sessionId)];
    const events = this.events.change();
    const revoked = this.applied(
      await this.revocations.revokeSession(userId, sessionId, this.clock.now(), reason, token, (transaction) =>
        events.write(transaction, 'session_revoked', { userId, sessionId, reason, ...by }),
      ),
    );
    if (revoked) events.announce();
    return revoked;
  }

  /** Revokes an active session of the user (no token at hand): device sign-out, refresh-token reuse. */
  async revokeSession(
    userId: string,
    sessionId: string,
    reason: string,
    by: EventContext = {},
    before?: (events: EventsOfChange, transaction: TransactionStatements) => Promise<void>,
  ): Promise<boolean> {
    [userId, sessionId] = [canonicalId(userId), canonicalId(sessionId)];
    const events = this.events.change();
    const revoked = this.applied(
      await this.revocations.revokeSession(userId, sessionId, this.clock.now(), reason, undefined, async (tx) => {
        await before?.(events, tx);
        await events.write(tx, 'session_revoked', { userId, sessionId, reason, ...by });
      }),
    );
    if (revoked) events.announce();
    return revoked;
  }

  /**
   * One row update invalidates every token the user holds, and with them every session signed in
   * before now (see notCutOff); the session rows are not rewritten. With `until` in the future
   * the account is also suspended until then (login answers 403). False when there is no such user.
   * Its events (`logout_all`, or `user_banned` and `session_revoked`; `reason` on each when given)
   * are written in its transaction, with `by`'s actor and address, and `also`'s, which may add more.
   */
  async revokeAllForUser(
    userId: string,
    options: RevokeAllOptions = {},
    by: EventContext = {},
    also?: (events: EventsOfChange, transaction: TransactionStatements) => Promise<void>,
  ): Promise<boolean> {
    userId = canonicalId(userId);
    const now = this.clock.now();
    const until = options.until && options.until > now ? options.until : null;
    const events = this.events.change();
    const result = await this.revocations.revokeAllForUser(userId, until, now, async (tx, cutoff) => {
      await also?.(events, tx);
      if (until) {
        await events.write(tx, 'user_banned', { userId, until: cutoff.suspendedUntil ?? until, ...by });
        // No session id: every session of the user.
        await events.write(tx, 'session_revoked', { userId, reason: REVOCATION_REASONS.ban, ...by });
      } else {
        await events.write(tx, 'logout_all', { userId, ...(options.reason ? { reason: options.reason } : {}), ...by });
      }
    });
    if (!this.applied(result?.events ?? null)) return false;
    events.announce();
    return true;
  }

  /**
   * Deletes the user and their sessions; every token of theirs is refused at once on every
   * instance, including instances that start later. False when there is no such user.
   */
  async deleteUser(
    userId: string,
    by: EventContext = {},
    before?: (transaction: TransactionStatements) => Promise<void>,
  ): Promise<boolean> {
    userId = canonicalId(userId);
    const events = this.events.change();
    const deleted = this.applied(
      await this.revocations.deleteUser(userId, async (tx) => {
        await before?.(tx);
        await events.write(tx, 'account_deleted', { userId, ...by });
        await events.write(tx, 'session_revoked', { userId, reason: REVOCATION_REASONS.accountDeleted, ...by });
      }),
    );
    if (deleted) events.announce();
    return deleted;
  }

  /**
   * Sets a new password hash and revokes every other session of the user at once; the
   * `password_changed` event and one `session_revoked` per ended session are written with it.
   */
  async changePassword(
    userId: string,
    passwordHash: string,
    keepSessionId: string,
    by: EventContext = {},
  ): Promise<void> {
    userId = canonicalId(userId);
    const reason = REVOCATION_REASONS.passwordChange;
    const events = this.events.change();
    const revoked = await this.revocations.changePassword(
      userId,
      passwordHash,
      keepSessionId,
      this.clock.now(),
      reason,
      async (tx, ended) => {
        await events.write(tx, 'password_changed', { userId, sessionId: keepSessionId, ...by });
        await events.write(tx, 'session_revoked', ...endedSessions(userId, ended, reason, by));
      },
    );
    this.applied(revoked);
    events.announce();
  }

  /** "Sign out all other devices": every session of the user but `keepSessionId`. */
  async revokeOtherSessions(userId: string, keepSessionId: string, by: EventContext = {}): Promise<void> {
    userId = canonicalId(userId);
    const reason = REVOCATION_REASONS.deviceRevoked;
    const events = this.events.change();
    const revoked = await this.revocations.revokeOtherSessions(
      userId,
      keepSessionId,
      this.clock.now(),
      reason,
      (tx, ended) => events.write(tx, 'session_revoked', ...endedSessions(userId, ended, reason, by)),
    );
    this.applied(revoked);
    events.announce();
  }

  /**
   * Inside a login's transaction, once its session is written: ends the user's least recently
   * used sessions beyond `maxSessionsPerUser`. Give what it returns to `sessionsEnded` once the
   * transaction has committed.
   */
  endSessionsOverCapIn(
    manager: TransactionStatements,
    userId: string,
    newSessionId: string,
    now: Date,
  ): Promise<RevocationEvent[]> {
    const { maxSessionsPerUser } = this.options;
    const reason = REVOCATION_REASONS.sessionLimit;
    return this.revocations.endLeastRecentlyUsedIn(manager, userId, newSessionId, maxSessionsPerUser, now, reason);
  }

  /**
   * Inside the login's transaction, after endSessionsOverCapIn: the `session_revoked` events of
   * the sessions it ended (by the system: the cap).
   */
  async recordEndedByCapIn(
    events: EventsOfChange,
    transaction: TransactionStatements,
    userId: string,
    ended: RevocationEvent[],
  ): Promise<void> {
    const system = { actor: { kind: 'system' as const } };
    await events.write(
      transaction,
      'session_revoked',
      ...endedSessions(userId, ended, REVOCATION_REASONS.sessionLimit, system),
    );
  }

  /** Sessions a committed login ended for the cap: known here at once. */
  sessionsEndedByCap(events: RevocationEvent[]): void {
    this.applied(events);
  }

  /**
   * Revocations another capability committed in a transaction of its own (a password reset):
   * this instance knows them at once, as it knows its own.
   */
  committed(events: RevocationEvent[]): void {
    this.applied(events);
  }

  /** This instance knows its own revocations as soon as they are committed. */
  private applied(events: RevocationEvent[] | null): boolean {
    if (!events) return false;
    this.sync.applyLocal(events);
    return true;
  }
}

/**
 * True when the session was signed in before the user's cut-off (milliseconds, both on the
 * database's clock): its every token is revoked, however recently it was refreshed.
 */
export function isSignedInBefore(signedInAtMs: number, cutoff: Date | null): boolean {
  return cutoff !== null && signedInAtMs < cutoff.getTime();
}
