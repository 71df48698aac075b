import 'reflect-metadata';
import { Controller, type DynamicModule, Get, Module } from '@nestjs/common';
import { ModuleRef, NestFactory } from '@nestjs/core';
import { Public, RevocationService, RevocationSyncService } from '../src/auth/index.js';
import {
  APPLICATION_OPTIONS,
  configureApp,
  createHttpAdapter,
  type HttpAdapterKind,
} from '../src/example/app.setup.js';
import { VerifierAppModule } from '../test/verifier-app/verifier-app.module.js';

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
async function main(): Promise<void> {
  const started = performance.now();
  const adapter = (process.env.HTTP_ADAPTER ?? 'fastify') as HttpAdapterKind;
  const app = await NestFactory.create(
    BenchVerifierModule.forRoot(
      process.env.DATABASE_URL as string,
      process.env.JWKS_URL || undefined,
      process.env.DATABASE_LISTEN_URL || undefined,
    ),
    createHttpAdapter(adapter),
    { ...APPLICATION_OPTIONS, logger: ['error', 'warn', 'log'] },
  );
  await configureApp(app, adapter);
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  console.log(`BENCH_READY ${Math.round(performance.now() - started)}`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
