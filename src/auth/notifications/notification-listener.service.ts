import { randomBytes } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import {
  decodeHint,
  encodeHeartbeat,
  REVOCATION_CHANNEL,
  type RevocationHint,
} from '../revocation/revocation-events.js';
import { NotificationRepository } from './notification.repository.js';
import { NotificationSigner } from './notification-signer.js';

/**
 * Injection token: `false` keeps the listener from connecting (the operator CLI, which checks no
 * token, and so needs neither the LISTEN connection nor the revocation state in memory; what it
 * changes it announces with NOTIFY in its own transactions, as any instance does).
 */
export const AUTH_LISTENER_ENABLED = Symbol('AUTH_LISTENER_ENABLED');

/** `live`: every subscriber is current and notifications arrive; anything else: trust nothing in memory. */
export type ListenerState = 'starting' | 'live' | 'degraded' | 'stopped';

/** A notification other than the listener's own heartbeat. */
export type ChannelHint = Exclude<RevocationHint, { kind: 'heartbeat' }>;

/**
 * What keeps state in memory from the channel (the revocation state, the signing keys). `epoch`
 * names the connection: whatever a subscriber learns from an older one is stale.
 */
export interface ChannelSubscriber {
  /** A notification, in the order received. */
  receive(hint: ChannelHint, epoch: number): void;
  /**
   * After each (re)connection, once LISTEN is proven to receive and before the listener is live:
   * read what may have been missed. A failure fails this connection attempt (and the start).
   */
  resync(epoch: number): Promise<void>;
  /** The connection `epoch` is gone: until the next resync, memory may be stale. */
  lost(epoch: number): void;
  /**
   * The listener of `epoch` is alive but behind: its heartbeat is late while other notifications
   * keep arriving ahead of it (a flood). Said once per heartbeat interval while it lasts.
   */
  behind?(epoch: number): void;
}

const MAX_RECONNECT_DELAY_MS = 2_000;
/** How long a (re)connecting listener waits for its first round trip through the pool. */
const FIRST_ROUND_TRIP_TIMEOUT_MS = 5_000;
/** How long the heartbeat's NOTIFY may take to commit through the pool (a busy pool is not a dead listener). */
const HEARTBEAT_SEND_TIMEOUT_MS = 2_000;
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * How much longer than its deadline a heartbeat may take while the listener keeps receiving other
 * notifications: it is then alive, behind a backlog (a flood) that it reads in order, and the
 * heartbeat is queued behind it. Memory is never more than this (plus the deadline) behind; a
 * listener that receives nothing at all is still given up at the deadline.
 */
const BACKLOG_TOLERANCE_MS = 1_500;
/** Least time between two warnings about dropped notifications (a flood must not flood the log). */
const DROPPED_WARNING_INTERVAL_MS = 60_000;

/** The listener and the pool do not meet: notifications sent through one never reach the other. */
export class RevocationListenerMismatchError extends Error {}

/** A NOTIFY committed through the pool did not reach the listener in time. */
class HeartbeatMissedError extends Error {}

/**
 * The one LISTEN connection of this instance, on the channel that revocations and key changes are
 * announced on. At start, and after any trouble: LISTEN first, prove that a NOTIFY sent through
 * the pool arrives, then let every subscriber resynchronise, and only then report `live`. The
 * heartbeat is the same round trip every `revocationHeartbeatMs`: a connection that dies silently,
 * an UNLISTEN or a pooler in between is found within one beat, and the listener reconnects with
 * backoff. Subscribers report their own failures with `fail`: memory is then not trusted until
 * the next resynchronisation.
 */
@Injectable()
export class NotificationListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(NotificationListener.name);
  private readonly subscribers: ChannelSubscriber[] = [];
  private state: ListenerState = 'starting';
  /** Bumped whenever a connection is given up; callbacks of older connections are ignored. */
  private generation = 0;
  private client: pg.Client | null = null;
  private reconnectDelay = 100;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private heartbeatRunning = false;
  private backendPid: number | null = null;
  /** Tells this instance's heartbeats from other instances'. */
  private readonly nonce = randomBytes(9).toString('base64url');

  /** Whether a heartbeat's nonce is one of this instance's (the operator CLI's check skips its own). */
  isOwnHeartbeat(nonce: string): boolean {
    return nonce.startsWith(`${this.nonce}-`);
  }
  private roundTrips = 0;
  /** Heartbeat nonces sent and not yet received → their resolver. */
  private readonly awaiting = new Map<string, () => void>();
  private dropped = 0;
  /** Notifications received on the current connection, whatever they were (the heartbeat's sign of progress). */
  private received = 0;
  private droppedSinceWarning = 0;
  private lastDroppedWarning = Number.NEGATIVE_INFINITY;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly notifications: NotificationRepository,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
    private readonly signer: NotificationSigner,
    @Optional() @Inject(AUTH_LISTENER_ENABLED) private readonly enabled: boolean = true,
  ) {}

  /** Subscribers are resynchronised in the order they subscribed. */
  subscribe(subscriber: ChannelSubscriber): void {
    this.subscribers.push(subscriber);
  }

  get status(): ListenerState {
    return this.state;
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  /** The current connection's epoch. */
  get epoch(): number {
    return this.generation;
  }

  /** Notifications dropped unread since start: not signed with the channel's key, or (without a key) not readable. */
  get droppedNotifications(): number {
    return this.dropped;
  }

  /** PostgreSQL backend pid of the listening connection (operators and tests can find it in pg_stat_activity). */
  get listenerBackendPid(): number | null {
    return this.backendPid;
  }

  async onApplicationBootstrap(): Promise<void> {
    // Never live: anything that asks (no one, in the CLI) is answered from the database.
    if (!this.enabled) return;
    if (!this.signer.authenticated) {
      this.logger.warn(
        'The notification channel is not authenticated here (no notificationSecret): notifications are read as hints without checking who sent them',
      );
    }
    // The app does not start (nor answer /health) before every subscriber is current; if that
    // cannot be done, the app does not start at all.
    await this.connectAndResync();
    this.heartbeatTimer = setInterval(() => void this.checkHeartbeat(), this.options.revocationHeartbeatMs).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.state = 'stopped';
    this.generation += 1;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.closeClient();
  }

  /**
   * A subscriber could not apply what connection `epoch` told it (a confirmation or a reload
   * failed): fall back, reconnect, resynchronise.
   */
  fail(epoch: number, reason: string): void {
    this.lost(epoch, reason);
  }

  private async connectAndResync(): Promise<void> {
    const generation = ++this.generation;
    const client = new pg.Client(this.connectionConfig());
    client.on('error', (error) => this.lost(generation, error.message));
    client.on('end', () => this.lost(generation, 'connection ended'));
    client.on('notification', (message) => this.receive(generation, message.payload));
    this.client = client;
    await client.connect();
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
    // Read after LISTEN: nothing committed from here on can be missed.
    for (const subscriber of this.subscribers) await subscriber.resync(generation);
    if (generation !== this.generation) throw new Error('listening connection lost while resynchronising');
    this.state = 'live';
    this.reconnectDelay = 100;
  }

  private receive(generation: number, payload: string | undefined): void {
    if (generation !== this.generation) return;
    this.received += 1;
    // Any role that can connect may NOTIFY: what is not signed with the channel's key costs one
    // HMAC and is dropped, with no query, no reload and no fallback (a flood of them changes
    // nothing). A notification genuinely lost is the heartbeat's to find, as before.
    const body = this.signer.open(payload);
    const hint = body === null ? null : decodeHint(body);
    if (!hint) {
      if (body !== null && this.signer.authenticated) {
        // Ours, yet unreadable (a newer version's?): what it meant cannot be known, so nothing in
        // memory can be trusted.
        this.lost(generation, 'unreadable notification');
        return;
      }
      this.drop();
      return;
    }
    if (hint.kind === 'heartbeat') {
      this.awaiting.get(hint.nonce)?.();
      return;
    }
    for (const subscriber of this.subscribers) subscriber.receive(hint, generation);
  }

  /** Counted, and said at most once a minute: a key that differs between instances shows here too. */
  private drop(): void {
    this.dropped += 1;
    this.droppedSinceWarning += 1;
    const now = performance.now();
    if (now - this.lastDroppedWarning < DROPPED_WARNING_INTERVAL_MS) return;
    this.logger.warn(
      `${this.droppedSinceWarning} notification(s) dropped unread: not signed with this instance's channel key, or not readable. ` +
        'Someone may be sending them, or notificationSecret (or the secret it is derived from) differs between instances.',
    );
    this.lastDroppedWarning = now;
    this.droppedSinceWarning = 0;
  }

  /**
   * Sends a NOTIFY through the pool and waits for it on the listener: proves that this listener
   * still receives what revocations send. Rejects on a send failure or when it does not arrive
   * within `timeoutMs` of being committed (up to BACKLOG_TOLERANCE_MS more while other
   * notifications keep arriving ahead of it).
   */
  private async roundTrip(timeoutMs: number): Promise<void> {
    this.roundTrips += 1;
    const nonce = `${this.nonce}-${this.roundTrips}`;
    let sendTimer: NodeJS.Timeout | undefined;
    let receiveTimer: NodeJS.Timeout | undefined;
    const received = new Promise<void>((resolve) => this.awaiting.set(nonce, resolve));
    try {
      await Promise.race([
        this.notifications.notifyThroughPool(encodeHeartbeat(nonce)),
        new Promise((_, reject) => {
          sendTimer = setTimeout(
            () => reject(new Error('heartbeat could not be sent in time')),
            Math.max(timeoutMs, HEARTBEAT_SEND_TIMEOUT_MS),
          );
        }),
      ]);
      const deadline = performance.now() + timeoutMs + BACKLOG_TOLERANCE_MS;
      await Promise.race([
        received,
        new Promise((_, reject) => {
          let seen = this.received;
          const check = () => {
            const progressed = this.received !== seen;
            seen = this.received;
            const left = deadline - performance.now();
            if (progressed && left > 0) {
              // Alive, behind a backlog: subscribers read what they must not wait for.
              for (const subscriber of this.subscribers) subscriber.behind?.(this.generation);
              receiveTimer = setTimeout(check, Math.min(timeoutMs, left));
            } else reject(new HeartbeatMissedError('heartbeat not received in time'));
          };
          receiveTimer = setTimeout(check, timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(sendTimer);
      clearTimeout(receiveTimer);
      this.awaiting.delete(nonce);
    }
  }

  /**
   * Falls back at once (subscribers are told), then reconnects and resynchronises in the
   * background. While still `starting`, nothing is scheduled: the failed first attempt fails the
   * application's start instead.
   */
  private lost(generation: number, reason: string): void {
    if (generation !== this.generation || this.state === 'stopped') return;
    this.generation += 1;
    if (this.state !== 'starting') this.state = 'degraded';
    for (const subscriber of this.subscribers) subscriber.lost(generation);
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
      // connectAndResync takes the next generation; a failure of this attempt may only end this
      // attempt, never a newer one that has gone live meanwhile.
      const attempt = this.generation + 1;
      this.connectAndResync().catch((error: Error) => {
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
