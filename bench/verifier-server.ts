import 'reflect-metadata';
import { Controller, type DynamicModule, Get, Module } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Public, RevocationService, RevocationSyncService } from '../src/auth/index.js';
import type { HttpAdapterKind } from '../src/example/app.setup.js';
import { VerifierAppModule } from '../test/verifier-app/verifier-app.module.js';
import { serve } from './serve.js';

/** The verify-only service's revocation state, for npm run bench:propagation. */
@Controller('bench')
class VerifierProbeController {
  constructor(private readonly moduleRef: ModuleRef) {}

  @Public()
  @Get('memory')
  memory() {
    const sync = this.moduleRef.get(RevocationSyncService, { strict: false });
    return {
      sync: sync.status,
      listenerPid: sync.listenerBackendPid,
      loadCount: sync.loadCount,
      databaseChecks: this.moduleRef.get(RevocationService, { strict: false }).databaseChecks,
    };
  }
}

@Module({})
class BenchVerifierModule {
  static forRoot(
    databaseUrl: string,
    jwksUrl: string | undefined,
    databaseListenUrl: string | undefined,
  ): DynamicModule {
    return {
      module: BenchVerifierModule,
      imports: [VerifierAppModule.forRoot({ databaseUrl, jwksUrl, databaseListenUrl })],
      controllers: [VerifierProbeController],
    };
  }
}

/**
 * The verify-only service of test/verifier-app in a process of its own: DATABASE_URL, JWKS_URL
 * and DATABASE_LISTEN_URL (optional), PORT, HTTP_ADAPTER (default fastify).
 */
const started = performance.now();
void serve(
  BenchVerifierModule.forRoot(
    process.env.DATABASE_URL as string,
    process.env.JWKS_URL || undefined,
    process.env.DATABASE_LISTEN_URL || undefined,
  ),
  (process.env.HTTP_ADAPTER ?? 'fastify') as HttpAdapterKind,
  started,
);
