import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module.js';
import { configureApp } from './app.setup.js';
import { ConfigError, loadAppConfig } from './config/app.config.js';
import { EmbeddedDatabaseAccessError, startEmbeddedDatabase } from './database/embedded-database.js';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Bootstrap');
  const config = loadAppConfig();
  const database = config.databaseUrl
    ? { url: config.databaseUrl, stop: async () => {} }
    : await startEmbeddedDatabase(config.dataDir, config.embeddedDatabasePort);
  if (!config.databaseUrl) logger.log(`Embedded PostgreSQL running (data in ${config.dataDir})`);

  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({ config, databaseUrl: database.url, runMigrations: !config.databaseUrl }),
    { bodyParser: false },
  );
  configureApp(app, { trustProxy: config.trustProxy });

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
  logger.log(`Listening on http://localhost:${config.port}`);
}

bootstrap().catch((error: unknown) => {
  // Configuration and data-directory access problems are the operator's to fix: say them plainly, without a stack.
  console.error(error instanceof ConfigError || error instanceof EmbeddedDatabaseAccessError ? error.message : error);
  process.exit(1);
});
