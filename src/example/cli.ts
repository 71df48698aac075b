import 'reflect-metadata';
import { parseArgs } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { AuthService, PurgeService, RevocationService } from '../auth/index.js';
import { ConfigError, loadAppConfig } from './config/app.config.js';
import { EmbeddedDatabaseAccessError, startEmbeddedDatabase } from './database/embedded-database.js';

const USAGE = `Usage: npm run cli -- <command>

Commands:
  purge                                  delete expired denylist rows, long-ended sessions and old failed
                                         logins once, and print what was deleted
  revoke-user <email> [--until <ISO-8601>]
                                         revoke every token of the user; with --until in the future, also
                                         suspend the account until then (login answers 403)`;

/** A wrong invocation: exit code 2 with the reason and the usage. */
class UsageError extends Error {}

type Command = (app: INestApplicationContext) => Promise<number>;

function parseCommand(argv: string[]): Command {
  const [name, ...rest] = argv;
  if (name === 'purge') {
    if (rest.length > 0) throw new UsageError(`purge takes no arguments (got: ${rest.join(' ')})`);
    return purge;
  }
  if (name === 'revoke-user') {
    let parsed;
    try {
      parsed = parseArgs({ args: rest, allowPositionals: true, options: { until: { type: 'string' } } });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const [email, ...extra] = parsed.positionals;
    if (!email || extra.length > 0) throw new UsageError('revoke-user takes exactly one email');
    const untilText = parsed.values.until;
    const until = untilText === undefined ? undefined : parseInstant(untilText);
    return (app) => revokeUser(app, email, until);
  }
  throw new UsageError(name === undefined ? 'No command given' : `Unknown command: ${name}`);
}

/** ISO-8601 with a date and a time zone (or Z), so that an instant never depends on the machine's zone. */
function parseInstant(text: string): Date {
  const iso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/;
  const date = new Date(text);
  if (!iso.test(text) || Number.isNaN(date.getTime())) {
    throw new UsageError(`--until must be an ISO-8601 date-time such as 2026-12-01T00:00:00Z (got "${text}")`);
  }
  return date;
}

async function purge(app: INestApplicationContext): Promise<number> {
  const result = await app.get(PurgeService).purgeExpired();
  if (result.skipped) {
    console.log('Another instance holds the purge lock; nothing deleted.');
  } else {
    console.log(
      `Deleted ${result.revokedTokens} expired revoked token(s), ${result.sessions} ended session(s), ${result.loginFailures} old failed login(s), ${result.rateLimitHits} old rate-limit hit(s) and ${result.deletedUsers} old tombstone(s) in ${result.statements} batch(es).`,
    );
  }
  return 0;
}

async function revokeUser(app: INestApplicationContext, email: string, until: Date | undefined): Promise<number> {
  const user = await app.get(AuthService).findUserByEmail(email);
  if (!user) {
    console.error(`No user with email ${email}`);
    return 1;
  }
  await app.get(RevocationService).revokeAllForUser(user.id, { until });
  const suspended = until !== undefined && until.getTime() > Date.now();
  console.log(
    suspended
      ? `Revoked every token of ${user.email}; account suspended until ${until.toISOString()}.`
      : `Revoked every token of ${user.email}.`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
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
    return await command(app);
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
