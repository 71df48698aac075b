import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  APPLICATION_OPTIONS,
  configureApp,
  createHttpAdapter,
  type HttpAdapterKind,
} from '../src/example/app.setup.js';

/**
 * Runs a bench server in this process on PORT (the load comes from the parent, which waits for
 * `BENCH_READY <ms from start>`), and stops it on SIGTERM or SIGINT.
 */
export async function serve(
  module: DynamicModule,
  adapter: HttpAdapterKind,
  started: number,
  http: { trustProxy?: false | number | string } = {},
): Promise<void> {
  const app = await NestFactory.create(module, createHttpAdapter(adapter, http), {
    ...APPLICATION_OPTIONS,
    logger: ['error', 'warn', 'log'],
  });
  await configureApp(app, adapter, http);
  await app.listen(Number(process.env.PORT), '127.0.0.1');
  console.log(`BENCH_READY ${Math.round(performance.now() - started)}`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
