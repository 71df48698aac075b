import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import { SigningKeys } from '../keys/signing-keys.service.js';
import { RevocationStateRepository } from './revocation-state.repository.js';
import {
  decodeHint,
  encodeHeartbeat,
  REVOCATION_CHANNEL,
  type RevocationEvent,
  type RevocationHint,
} from './revocation-events.js';
import { type RevocationClaims, RevocationStore } from './revocation-store.js';

/** `live`: memory is current and answers; anything else: every check goes to the database. */
export type RevocationSyncState = 'starting' | 'live' | 'degraded' | 'stopped';

/** Tokens issued up to this long before a revocation may still be around (clock skew between instances). */
const SKEW_MARGIN_MS = 60_000;
const PRUNE_INTERVAL_MS = 60_000;
const MAX_RECONNECT_DELAY_MS = 2_000;
/** How long a (re)connecting listener waits for its first round trip through the pool. */
const FIRST_ROUND_TRIP_TIMEOUT_MS = 5_000;
/** How long the heartbeat's NOTIFY may take to commit through the pool (a busy pool is not a dead listener). */
const HEARTBEAT_SEND_TIMEOUT_MS = 2_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** The listener and the pool do not meet: notifications sent through one never reach the other. */
export class RevocationListenerMismatchError extends Error {}

/** A NOTIFY committed through the pool did not reach the listener in time. */
class HeartbeatMissedError extends Error {}

/**
 * Keeps this instance's RevocationStore current. At start, and after any trouble: LISTEN first,
 * prove that a NOTIFY sent through the pool arrives, then load from the database, then apply what
 * arrived meanwhile. Until that is done, and whenever the listening connection is lost or stops
 * receiving (the heartbeat is the same NOTIFY round trip, every `revocationHeartbeatMs`), the state
 * is not `live` and the guard checks the database on every request: a revocation is never missed
 * silently. Notifications are hints, confirmed against the database before they are applied.
 */
@Injectable()
export class RevocationSyncService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RevocationSyncService.name);
  private store = new RevocationStore();
  private state: RevocationSyncState = 'starting';
  /** Bumped whenever a connection is given up; callbacks of older connections are ignored. */
  private generation = 0;
  private client: pg.Client | null = null;
  /** Events received while a load is running, applied to the fresh store once it is loaded. */
  private pending: RevocationEvent[] | null = null;
  private reconnectDelay = 100;
  private timers: NodeJS.Timeout[] = [];
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatRunning = false;
  private backendPid: number | null = null;
  /** Tells this instance's heartbeats from other instances'. */
  private readonly nonce = randomBytes(9).toString('base64url');
  private roundTrips = 0;
  /** Heartbeat nonces sent and not yet received → their resolver. */
  private readonly awaiting = new Map<string, () => void>();
  private loads = 0;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly revocations: RevocationStateRepository,
    private readonly keys: SigningKeys,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  get status(): RevocationSyncState {
    return this.state;
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  /** How many times the state was loaded from the database (1 after start; each resynchronisation adds one). */
  get loadCount(): number {
    return this.loads;
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
    return this.backendPid;
  }

  get memorySize(): { tokens: number; sessions: number; users: number; deletedUsers: number } {
    return this.store.size;
  }

  async onApplicationBootstrap(): Promise<void> {
    // The app does not start (nor answer /health) before the state is loaded; if it cannot be
    // loaded, the app does not start at all.
    await this.connectAndLoad();
    this.timers.push(setInterval(() => void this.checkHeartbeat(), this.options.revocationHeartbeatMs).unref());
    this.timers.push(setInterval(() => this.prune(), PRUNE_INTERVAL_MS).unref());
  }

  async onApplicationShutdown(): Promise<void> {
    this.state = 'stopped';
    this.generation += 1;
    for (const timer of this.timers) clearInterval(timer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.closeClient();
  }

  private async connectAndLoad(): Promise<void> {
    const generation = ++this.generation;
    const client = new pg.Client(this.connectionConfig());
    client.on('error', (error) => this.lost(generation, error.message));
    client.on('end', () => this.lost(generation, 'connection ended'));
    client.on('notification', (message) => this.receive(generation, message.payload));
    this.client = client;
    await client.connect();
    this.pending = [];
    await client.query(`LISTEN ${REVOCATION_CHANNEL}`);
    this.backendPid = (client as unknown as { processID: number | null }).processID ?? null;
    try {
      await this.roundTrip(FIRST_ROUND_TRIP_TIMEOUT_MS);
    } catch (error) {
      // A send that failed is a database problem, said as it is; only a NOTIFY that was committed
      // and never arrived says that listener and pool do not meet.
      if (!(error instanceof HeartbeatMissedError)) throw error;
      throw new RevocationListenerMismatchError(
        `The revocation listener did not receive a notification sent through the database pool (${(error as Error).message}). ` +
          'The listener and the TypeORM connection must reach the same PostgreSQL database, and notifications must pass: ' +
          'a transaction-mode pooler (PgBouncer) does not carry LISTEN; give the module a direct connection with revocationListenerUrl.',
      );
    }
    const fresh = new RevocationStore();
    const now = this.clock.now().getTime();
    const started = performance.now();
    await this.revocations.loadActive(new Date(now), new Date(this.horizon(now)), fresh);
    // The signing keys travel on the same channel: read after LISTEN, so no change is missed.
    await this.keys.reloadAfterReconnect();
    if (generation !== this.generation) throw new Error('listening connection lost while loading');
    for (const event of this.pending) fresh.apply(event);
    this.pending = null;
    this.store = fresh;
    this.state = 'live';
    this.loads += 1;
    this.reconnectDelay = 100;
    const { tokens, sessions, users, deletedUsers } = fresh.size;
    this.logger.log(
      `Revocation state loaded in ${Math.round(performance.now() - started)} ms: ${tokens} tokens, ${sessions} sessions, ${users} users, ${deletedUsers} deleted users`,
    );
  }

  private receive(generation: number, payload: string | undefined): void {
    if (generation !== this.generation) return;
    const hint = decodeHint(payload);
    if (!hint) {
      // Not ours, or damaged: what it meant cannot be known, so nothing in memory can be trusted.
      this.lost(generation, 'unreadable notification');
      return;
    }
    if (hint.kind === 'heartbeat') {
      this.awaiting.get(hint.nonce)?.();
      return;
    }
    if (hint.kind === 'keys') {
      this.keys.keysChanged().catch((error: Error) => {
        this.lost(generation, `could not reload the signing keys: ${error.message}`);
      });
      return;
    }
    this.confirmAndApply(generation, hint);
  }

  /**
   * Applies what the database says about the hint's subject, not what the payload says: a forged
   * NOTIFY (any role that can connect may send one) changes nothing that is not in the database.
   * A confirmation that fails leaves memory unsure: fall back to the database and resynchronise.
   */
  private confirmAndApply(generation: number, hint: Exclude<RevocationHint, { kind: 'heartbeat' | 'keys' }>): void {
    this.revocations.confirm(hint).then(
      (events) => {
        if (generation !== this.generation) return;
        for (const event of events) {
          this.store.apply(event);
          this.pending?.push(event);
        }
      },
      (error: Error) => this.lost(generation, `could not confirm a notification: ${error.message}`),
    );
  }

  /**
   * Sends a NOTIFY through the pool and waits for it on the listener: proves that this listener
   * still receives what revocations send. Rejects on a send failure or when it does not arrive
   * within `timeoutMs` of being committed.
   */
  private async roundTrip(timeoutMs: number): Promise<void> {
    this.roundTrips += 1;
    const nonce = `${this.nonce}-${this.roundTrips}`;
    let sendTimer: NodeJS.Timeout | undefined;
    let receiveTimer: NodeJS.Timeout | undefined;
    const received = new Promise<void>((resolve) => this.awaiting.set(nonce, resolve));
    try {
      await Promise.race([
        this.revocations.notifyThroughPool(encodeHeartbeat(nonce)),
        new Promise((_, reject) => {
          sendTimer = setTimeout(
            () => reject(new Error('heartbeat could not be sent in time')),
            Math.max(timeoutMs, HEARTBEAT_SEND_TIMEOUT_MS),
          );
        }),
      ]);
      await Promise.race([
        received,
        new Promise((_, reject) => {
          receiveTimer = setTimeout(
            () => reject(new HeartbeatMissedError('heartbeat not received in time')),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(sendTimer);
      clearTimeout(receiveTimer);
      this.awaiting.delete(nonce);
    }
  }

  /**
   * Falls back to the database at once, then reconnects and reloads in the background. While still
   * `starting`, nothing is scheduled: the failed first load fails the application's start instead.
   */
  private lost(generation: number, reason: string): void {
    if (generation !== this.generation || this.state === 'stopped') return;
    this.generation += 1;
    if (this.state !== 'starting') this.state = 'degraded';
    this.pending = null;
    this.logger.warn(
      `Revocation listener lost (${reason}); checking the database on every request until resynchronised`,
    );
    void this.closeClient();
    if (this.state === 'degraded') this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer || this.state === 'stopped') return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      // connectAndLoad takes the next generation; a failure of this attempt may only end this
      // attempt, never a newer one that has gone live meanwhile.
      const attempt = this.generation + 1;
      this.connectAndLoad().catch((error: Error) => {
        if (attempt !== this.generation) return;
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_DELAY_MS);
        this.lost(attempt, `reconnect failed: ${error.message}`);
      });
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  /**
   * A listener that no longer receives is found by a NOTIFY that does not come back in time:
   * a silently dead connection (no FIN), a frozen backend, an `UNLISTEN`, or a pooler in between.
   */
  private async checkHeartbeat(): Promise<void> {
    if (this.state !== 'live' || !this.client || this.heartbeatRunning) return;
    const generation = this.generation;
    this.heartbeatRunning = true;
    try {
      await this.roundTrip(this.options.revocationHeartbeatMs);
    } catch (error) {
      this.lost(generation, (error as Error).message);
    } finally {
      this.heartbeatRunning = false;
    }
  }

  private prune(): void {
    const now = this.clock.now().getTime();
    this.store.prune(now, this.horizon(now));
  }

  /** Sessions revoked and cut-offs set before this can only concern expired access tokens. */
  private horizon(now: number): number {
    return now - this.options.accessTokenTtl * 1000 - this.options.clockTolerance * 1000 - SKEW_MARGIN_MS;
  }

  private async closeClient(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (!client) return;
    client.removeAllListeners('notification');
    client.on('error', () => {});
    await client.end().catch(() => {});
  }

  private connectionConfig(): pg.ClientConfig {
    const common = {
      // The pid lets an operator (or a test) find this instance's listener in pg_stat_activity.
      application_name: `auth-revocation-listener:${process.pid}`,
      keepAlive: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    };
    if (this.options.revocationListenerUrl) return { connectionString: this.options.revocationListenerUrl, ...common };
    const options = this.dataSource.options as PostgresDataSourceOptions;
    return {
      connectionString: options.url,
      host: options.host,
      port: options.port,
      user: options.username,
      password: typeof options.password === 'string' ? options.password : undefined,
      database: options.database,
      ssl: options.ssl as pg.ClientConfig['ssl'],
      ...common,
    };
  }
}
