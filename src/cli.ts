import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { PurgeService } from './auth/index.js';
import { ConfigError, loadAppConfig } from './config/app.config.js';
import { startEmbeddedDatabase } from './database/embedded-database.js';

const USAGE = `Usage: npm run cli -- <command>

Commands:
  purge    delete expired denylist rows and long-ended sessions once, and print what was deleted`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'purge' || rest.length > 0) {
    console.error(
      command === undefined || command === 'help' ? USAGE : `Unknown command: ${argv.join(' ')}\n\n${USAGE}`,
    );
    return command === 'help' ? 0 : 2;
  }
  const config = loadAppConfig();
  const database = config.databaseUrl
    ? { url: config.databaseUrl, stop: async () => {} }
    : await startEmbeddedDatabase(config.dataDir, config.embeddedDatabasePort);
  const app = await NestFactory.createApplicationContext(
    AppModule.forRoot({ config, databaseUrl: database.url, runMigrations: !config.databaseUrl, schedulePurge: false }),
    { logger: ['error', 'warn'] },
  );
  try {
    const result = await app.get(PurgeService).purgeExpired();
    if (result.skipped) {
      console.log('Another instance holds the purge lock; nothing deleted.');
    } else {
      console.log(
        `Deleted ${result.revokedTokens} expired revoked token(s) and ${result.sessions} ended session(s) in ${result.statements} statement(s).`,
      );
    }
    return 0;
  } finally {
    await app.close();
    await database.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
