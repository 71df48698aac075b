import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import { AUTH_CLOCK } from './auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from './auth-options.js';
import type { ResolvedAuthOptions } from './interfaces/auth-module-options.interface.js';
import type { Clock } from './interfaces/clock.interface.js';
import type { AuthTokenClaims } from './interfaces/jwt-claims.interface.js';
import { RevocationRepository } from './repositories/revocation.repository.js';
import { decodeEvent, REVOCATION_CHANNEL, type RevocationEvent } from './revocation-events.js';
import { RevocationStore } from './revocation-store.js';

/** `live`: memory is current and answers; anything else: every check goes to the database. */
export type RevocationSyncState = 'starting' | 'live' | 'degraded' | 'stopped';

/** Tokens issued up to this long before a revocation may still be around (clock skew between instances). */
const SKEW_MARGIN_MS = 60_000;
const PRUNE_INTERVAL_MS = 60_000;
const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Keeps this instance's RevocationStore current. At start, and after any trouble: LISTEN first,
 * then load from the database, then apply what arrived meanwhile. Until that is done, and whenever
 * the listening connection is lost or a heartbeat on it fails, the state is not `live` and the
 * guard checks the database on every request: a revocation is never missed silently.
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

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly revocations: RevocationRepository,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  get status(): RevocationSyncState {
    return this.state;
  }

  get isLive(): boolean {
    return this.state === 'live';
  }

  /** Answer from memory; only meaningful while `isLive`. */
  isRevoked(claims: Pick<AuthTokenClaims, 'jti' | 'sid' | 'sub' | 'iat_ms'>): boolean {
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

  get memorySize(): { tokens: number; sessions: number; users: number } {
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
    const fresh = new RevocationStore();
    const now = this.clock.now().getTime();
    const started = performance.now();
    await this.revocations.loadActive(new Date(now), new Date(this.horizon(now)), (event) => fresh.apply(event));
    if (generation !== this.generation) throw new Error('listening connection lost while loading');
    for (const event of this.pending) fresh.apply(event);
    this.pending = null;
    this.store = fresh;
    this.state = 'live';
    this.reconnectDelay = 100;
    const { tokens, sessions, users } = fresh.size;
    this.logger.log(
      `Revocation state loaded in ${Math.round(performance.now() - started)} ms: ${tokens} tokens, ${sessions} sessions, ${users} users`,
    );
  }

  private receive(generation: number, payload: string | undefined): void {
    if (generation !== this.generation) return;
    const event = decodeEvent(payload);
    if (!event) {
      this.lost(generation, 'unreadable notification');
      return;
    }
    this.store.apply(event);
    this.pending?.push(event);
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
      this.connectAndLoad().catch((error: Error) => {
        this.lost(this.generation, `reconnect failed: ${error.message}`);
        this.reconnectDelay = Math.min(this.reconnectDelay * 2, MAX_RECONNECT_DELAY_MS);
        this.scheduleReconnect();
      });
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  /** A silently dead connection (no FIN) is found by a query that does not come back in time. */
  private async checkHeartbeat(): Promise<void> {
    if (this.state !== 'live' || !this.client || this.heartbeatRunning) return;
    const generation = this.generation;
    const client = this.client;
    this.heartbeatRunning = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.query('SELECT 1'),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('heartbeat timed out')), this.options.revocationHeartbeatMs);
        }),
      ]);
    } catch (error) {
      this.lost(generation, (error as Error).message);
    } finally {
      clearTimeout(timer);
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
    const options = this.dataSource.options as PostgresDataSourceOptions;
    return {
      connectionString: options.url,
      host: options.host,
      port: options.port,
      user: options.username,
      password: typeof options.password === 'string' ? options.password : undefined,
      database: options.database,
      ssl: options.ssl as pg.ClientConfig['ssl'],
      // The pid lets an operator (or a test) find this instance's listener in pg_stat_activity.
      application_name: `auth-revocation-listener:${process.pid}`,
      keepAlive: true,
    };
  }
}
