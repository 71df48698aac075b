import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { APPLICATION_OPTIONS, configureApp, createHttpAdapter } from './app.setup.js';
import { ConfigError, loadAppConfig } from './config/app.config.js';
import { EmbeddedDatabaseAccessError, startEmbeddedDatabase } from './database/embedded-database.js';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Bootstrap');
  const config = loadAppConfig();
  const database = config.databaseUrl
    ? { url: config.databaseUrl, stop: async () => {} }
    : await startEmbeddedDatabase(config.dataDir, config.embeddedDatabasePort);
  if (!config.databaseUrl) logger.log(`Embedded PostgreSQL running (data in ${config.dataDir})`);

  const http = { trustProxy: config.trustProxy };
  const app = await NestFactory.create(
    AppModule.forRoot({ config, databaseUrl: database.url, runMigrations: !config.databaseUrl }),
    createHttpAdapter(config.httpAdapter, http),
    APPLICATION_OPTIONS,
  );
  await configureApp(app, config.httpAdapter, http);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received, shutting down`);
    await app.close();
    await database.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  await app.listen(config.port);
  logger.log(`Listening on http://localhost:${config.port} (${config.httpAdapter})`);
}

bootstrap().catch((error: unknown) => {
  // Configuration and data-directory access problems are the operator's to fix: say them plainly, without a stack.
  console.error(error instanceof ConfigError || error instanceof EmbeddedDatabaseAccessError ? error.message : error);
  process.exit(1);
});
