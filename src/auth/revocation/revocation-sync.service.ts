import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import {
  type ChannelHint,
  type ChannelSubscriber,
  type ListenerState,
  NotificationListener,
} from '../notifications/notification-listener.service.js';
import { RevocationStateRepository } from './revocation-state.repository.js';
import type { RevocationEvent } from './revocation-events.js';
import { type RevocationClaims, RevocationStore } from './revocation-store.js';

/** `live`: memory is current and answers; anything else: every check goes to the database. */
export type RevocationSyncState = ListenerState;

/** Tokens issued up to this long before a revocation may still be around (clock skew between instances). */
const SKEW_MARGIN_MS = 60_000;
const PRUNE_INTERVAL_MS = 60_000;
/** Confirmations (one indexed query each) run at most this many at a time, whatever arrives. */
export const MAX_CONFIRMING = 4;
/**
 * Hints waiting to be confirmed, at most (a hint naming what one already waiting names is not
 * queued again). Past this the instance falls back to the database and reloads, once.
 */
export const MAX_WAITING_CONFIRMATIONS = 10_000;

type ConfirmableHint = Exclude<ChannelHint, { kind: 'keys' }>;

/** What a hint names: two hints with the same key are answered by one read. */
function hintKey(hint: ConfirmableHint): string {
  switch (hint.kind) {
    case 'token':
      return `t${hint.jti}`;
    case 'sessions':
      return `s${hint.ids.join(',')}`;
    case 'user':
      return `u${hint.userId}`;
    case 'userDeleted':
      return `d${hint.userId}`;
  }
}

/**
 * Keeps this instance's RevocationStore current from the NotificationListener's channel: loaded
 * from the database after every (re)connection (what arrives meanwhile is applied to the fresh
 * store once it is loaded), and kept current by notifications, which are hints confirmed against
 * the database before they are applied. While the listener is not `live`, the guard checks the
 * database on every request: a revocation is never missed silently.
 */
/**
 * The least a catch-up read under a backlog reaches back: the longest a heartbeat may be late
 * while notifications keep arriving (deadline plus backlog tolerance), twice, plus the clock
 * difference tolerated between instances (sessions are stamped on the revoking instance's clock);
 * see catchUpWindowMs.
 */
const CATCH_UP_WINDOW_MS = 10_000;

@Injectable()
export class RevocationSyncService implements ChannelSubscriber, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RevocationSyncService.name);
  private store = new RevocationStore();
  /**
   * Events for the store being loaded: kept from the loss of a connection (and from the start)
   * until the next load is swapped in, so that nothing committed meanwhile is left out of it.
   */
  private pending: RevocationEvent[] | null = [];
  private loads = 0;
  private pruneTimer: NodeJS.Timeout | null = null;
  /** Hints of the current connection waiting to be confirmed, from `waitingHead` on, and their keys. */
  private waiting: Array<{ hint: ConfirmableHint; key: string; epoch: number }> = [];
  private waitingHead = 0;
  private readonly waitingKeys = new Set<string>();
  private confirming = 0;
  private confirmations = 0;
  /** A catch-up read under way (at most one), and how many were started. */
  private catchingUp = false;
  private catchUps = 0;

  constructor(
    private readonly listener: NotificationListener,
    private readonly revocations: RevocationStateRepository,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {
    listener.subscribe(this);
  }

  get status(): RevocationSyncState {
    return this.listener.status;
  }

  get isLive(): boolean {
    return this.listener.isLive;
  }

  /** How many times the state was loaded from the database (1 after start; each resynchronisation adds one). */
  get loadCount(): number {
    return this.loads;
  }

  /** Confirmation queries started since start (one per hint confirmed; forged or duplicate hints start none). */
  get confirmationCount(): number {
    return this.confirmations;
  }

  /** Catch-up reads started because the listener was behind a flood (see behind()). */
  get catchUpCount(): number {
    return this.catchUps;
  }

  /** Answer from memory; only meaningful while `isLive`. */
  isRevoked(claims: RevocationClaims): boolean {
    return this.store.isRevoked(claims);
  }

  /** Revocations this instance just committed: known here at once, before any notification returns. */
  applyLocal(events: RevocationEvent[]): void {
    for (const event of events) {
      this.store.apply(event);
      this.pending?.push(event);
    }
  }

  /** PostgreSQL backend pid of the listening connection (operators and tests can find it in pg_stat_activity). */
  get listenerBackendPid(): number | null {
    return this.listener.listenerBackendPid;
  }

  get memorySize(): { tokens: number; sessions: number; users: number; deletedUsers: number } {
    return this.store.size;
  }

  onApplicationBootstrap(): void {
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_INTERVAL_MS).unref();
  }

  onApplicationShutdown(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
  }

  async resync(epoch: number): Promise<void> {
    this.pending ??= [];
    const fresh = new RevocationStore();
    const now = this.clock.now().getTime();
    const started = performance.now();
    await this.revocations.loadActive(new Date(now), new Date(this.horizon(now)), fresh);
    if (epoch !== this.listener.epoch) throw new Error('listening connection lost while loading');
    for (const event of this.pending) fresh.apply(event);
    this.pending = null;
    this.store = fresh;
    this.loads += 1;
    const { tokens, sessions, users, deletedUsers } = fresh.size;
    this.logger.log(
      `Revocation state loaded in ${Math.round(performance.now() - started)} ms: ${tokens} tokens, ${sessions} sessions, ${users} users, ${deletedUsers} deleted users`,
    );
  }

  /**
   * The listener is alive but behind a backlog (a flood of notifications, forged or not, read in
   * order ahead of the real ones): a revocation committed now would reach memory only once the
   * backlog is read, seconds later. So, once per heartbeat interval while that lasts and one at a
   * time, read what was revoked in the last seconds straight from the database (three index range
   * scans; RevocationStateRepository.changedSince) and apply it: memory stays current whatever
   * the size of the flood, at a bounded cost. A read that fails fails closed.
   */
  behind(epoch: number): void {
    if (this.catchingUp || epoch !== this.listener.epoch) return;
    this.catchingUp = true;
    this.catchUps += 1;
    const window = this.catchUpWindowMs();
    const since = new Date(this.clock.now().getTime() - window);
    this.revocations
      .changedSince(since, window / 1000)
      .then(
        (events) => {
          if (epoch === this.listener.epoch) this.applyLocal(events);
        },
        (error: Error) => this.listener.fail(epoch, `could not read recent revocations: ${error.message}`),
      )
      .finally(() => {
        this.catchingUp = false;
      });
  }

  private catchUpWindowMs(): number {
    const { clockTolerance, revocationHeartbeatMs } = this.options;
    return Math.max(CATCH_UP_WINDOW_MS, 2 * (2 * revocationHeartbeatMs + 1_500) + 2 * clockTolerance * 1000);
  }

  lost(): void {
    this.pending = [];
    // What was waiting belongs to the lost connection: the next load reads all of it.
    this.clearWaiting();
  }

  /**
   * Applies what the database says about the hint's subject, not what the payload says: a
   * notification (signed, but possibly replayed) changes nothing that is not in the database.
   * The work is bounded whatever arrives: at most MAX_CONFIRMING queries at a time, a hint
   * naming what a waiting one names is answered by that one's read (which starts later, so it
   * sees this commit too), and past MAX_WAITING_CONFIRMATIONS waiting the instance fails closed
   * (the database answers every check) and reloads once, instead of queueing without end.
   */
  receive(hint: ChannelHint, epoch: number): void {
    if (hint.kind === 'keys' || epoch !== this.listener.epoch) return;
    const key = hintKey(hint);
    if (this.waitingKeys.has(key)) return;
    if (this.waitingKeys.size >= MAX_WAITING_CONFIRMATIONS) {
      this.clearWaiting();
      this.listener.fail(epoch, `more than ${MAX_WAITING_CONFIRMATIONS} notifications waiting to be confirmed`);
      return;
    }
    this.waiting.push({ hint, key, epoch });
    this.waitingKeys.add(key);
    this.confirmNext();
  }

  /**
   * Starts confirmations while fewer than MAX_CONFIRMING run. A confirmation that fails leaves
   * memory unsure: fall back to the database and resynchronise (never stay live on it).
   */
  private confirmNext(): void {
    while (this.confirming < MAX_CONFIRMING && this.waitingHead < this.waiting.length) {
      const { hint, key, epoch } = this.waiting[this.waitingHead];
      this.waitingHead += 1;
      this.waitingKeys.delete(key);
      if (this.waitingHead === this.waiting.length) this.clearWaiting();
      else if (this.waitingHead >= 1024 && this.waitingHead * 2 >= this.waiting.length) {
        this.waiting = this.waiting.slice(this.waitingHead);
        this.waitingHead = 0;
      }
      if (epoch !== this.listener.epoch) continue;
      this.confirming += 1;
      this.confirmations += 1;
      this.revocations
        .confirm(hint)
        .then(
          (events) => {
            if (epoch !== this.listener.epoch) return;
            for (const event of events) {
              this.store.apply(event);
              this.pending?.push(event);
            }
          },
          (error: Error) => this.listener.fail(epoch, `could not confirm a notification: ${error.message}`),
        )
        .finally(() => {
          this.confirming -= 1;
          this.confirmNext();
        });
    }
  }

  private clearWaiting(): void {
    this.waiting = [];
    this.waitingHead = 0;
    this.waitingKeys.clear();
  }

  private prune(): void {
    const now = this.clock.now().getTime();
    this.store.prune(now, this.horizon(now));
  }

  /** Sessions revoked and cut-offs set before this can only concern expired access tokens. */
  private horizon(now: number): number {
    return now - this.options.accessTokenTtl * 1000 - this.options.clockTolerance * 1000 - SKEW_MARGIN_MS;
  }
}
