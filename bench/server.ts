import 'reflect-metadata';
import { Controller, Get, type DynamicModule, Module, Post } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { AppModule } from '../src/example/app.module.js';
import { PurgeService, Public, RevocationService, RevocationSyncService, SigningKeys } from '../src/auth/index.js';
import { NotificationListener } from '../src/auth/notifications/notification-listener.service.js';
import { loadAppConfig } from '../src/example/config/app.config.js';
import { ComparisonModule } from './comparison.module.js';
import { serve } from './serve.js';

/** Bench-only routes: memory after a full GC and the revocation sync state, and a timed purge. */
@Controller('bench')
class BenchProbeController {
  constructor(private readonly moduleRef: ModuleRef) {}

  // The module's services live inside AppModule; look them up across modules.
  private get sync() {
    return this.moduleRef.get(RevocationSyncService, { strict: false });
  }

  private get purge() {
    return this.moduleRef.get(PurgeService, { strict: false });
  }

  @Public()
  @Get('memory')
  memory() {
    (globalThis as { gc?: () => void }).gc?.();
    const usage = process.memoryUsage();
    return {
      heapUsed: usage.heapUsed,
      // Resident memory of the whole process, what the host actually pays: heap plus everything
      // else (code, buffers, native allocations), and heap pages the GC freed but kept.
      rss: usage.rss,
      /** Highest RSS since the process started (e.g. while loading the revocation state). */
      rssPeak: process.resourceUsage().maxRSS * 1024,
      external: usage.external,
      /** Memory of ArrayBuffers (the denylist's hash table lives in typed arrays, outside the heap). */
      arrayBuffers: usage.arrayBuffers,
      state: this.sync.memorySize,
      sync: this.sync.status,
      listenerPid: this.sync.listenerBackendPid,
      loadCount: this.sync.loadCount,
      /** Revocation checks answered by the database so far (strict routes, or memory not live). */
      databaseChecks: this.moduleRef.get(RevocationService, { strict: false }).databaseChecks,
      /** The notification channel (npm run bench:flood): payloads dropped unread, hints confirmed, key loads. */
      droppedNotifications: this.moduleRef.get(NotificationListener, { strict: false }).droppedNotifications,
      confirmations: this.sync.confirmationCount,
      /** Catch-up reads of recent revocations while the listener was behind a backlog. */
      catchUps: this.sync.catchUpCount,
      keyLoads: this.moduleRef.get(SigningKeys, { strict: false }).loads,
    };
  }

  /**
   * Guarded by the global JwtAuthGuard, answering what GET /health answers: against /health with
   * the same request bytes, the guard's own cost, without the user in the answer (npm run bench:writes).
   */
  @Get('guarded')
  guarded(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The server's CPU time so far (user + system, µs): a benchmark divides its growth by the requests served. */
  @Public()
  @Get('cpu')
  cpu() {
    const { user, system } = process.cpuUsage();
    return { micros: user + system, user, system };
  }

  @Public()
  @Post('purge')
  async runPurge() {
    const started = performance.now();
    const result = await this.purge.purgeExpired();
    return { ...result, ms: performance.now() - started };
  }
}

@Module({})
class BenchAppModule {
  static forRoot(databaseUrl: string): DynamicModule {
    const config = loadAppConfig();
    return {
      module: BenchAppModule,
      imports: [
        AppModule.forRoot({ config, databaseUrl, runMigrations: false, schedulePurge: false }),
        ComparisonModule,
      ],
      controllers: [BenchProbeController],
    };
  }
}

/** The example app plus the comparison routes, in a process of its own (the load comes from the parent). */
const started = performance.now();
// HTTP_ADAPTER and TRUST_PROXY as in the example app (npm run bench:hammer tells clients apart by X-Forwarded-For).
const { httpAdapter, trustProxy } = loadAppConfig();
void serve(BenchAppModule.forRoot(process.env.DATABASE_URL!), httpAdapter, started, { trustProxy });
