import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
// The package's own commands (what `npx nest-jwt-revocation` runs), from the library's source.
import {
  CLI_COMMANDS_HELP,
  CliUsageError,
  consoleOutput,
  parseCliCommand,
  type CliCommand,
} from '../auth/cli/cli-commands.js';
import { ConfigError, loadAppConfig } from './config/app.config.js';
import { EmbeddedDatabaseAccessError, startEmbeddedDatabase } from './database/embedded-database.js';

/**
 * `npm run cli -- <command>`: the package's operator commands against the example app, configured
 * as the app is (its environment, and the embedded database when DATABASE_URL is not set).
 */
const USAGE = `Usage: npm run cli -- <command>\n\n${CLI_COMMANDS_HELP}`;

async function main(argv: string[]): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCliCommand(argv);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
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
    // The example app's own configuration: its lifetimes and algorithm are known here.
    return await command.run(app, consoleOutput, {
      keyLifetimesKnown: true,
      rotationAlgorithm: config.jwtAlgorithm,
      newKeyEncryptionSecret: process.env.NEW_KEY_ENCRYPTION_SECRET,
    });
  } finally {
    await app.close();
    await database.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError || error instanceof EmbeddedDatabaseAccessError ? error.message : error);
    process.exit(1);
  },
);
