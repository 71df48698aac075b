import 'reflect-metadata';
import { parseArgs } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import {
  AuthService,
  isSigningAlgorithm,
  KeyRotationPendingError,
  KeyRotationService,
  type KeyTimeline,
  PurgeService,
  RevocationService,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from '../auth/index.js';
import { ConfigError, loadAppConfig } from './config/app.config.js';
import { EmbeddedDatabaseAccessError, startEmbeddedDatabase } from './database/embedded-database.js';

const USAGE = `Usage: npm run cli -- <command>

Commands:
  purge                                  delete expired denylist rows, long-ended sessions and old failed
                                         logins once, and print what was deleted
  revoke-user <email> [--until <ISO-8601>]
                                         revoke every token of the user; with --until in the future, also
                                         suspend the account until then (login answers 403)
  keys list                              every signing key: kid, algorithm, state (next, current, previous,
                                         expired) and dates
  keys rotate [--algorithm <alg>]        add a key (default: JWT_ALGORITHM) that every instance learns now and
                                         that signs after the activation delay; older keys keep verifying
                                         until their last token has expired
  keys retire                            delete the keys no live token can have been signed with`;

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
  if (name === 'keys') return parseKeysCommand(rest);
  throw new UsageError(name === undefined ? 'No command given' : `Unknown command: ${name}`);
}

function parseKeysCommand(args: string[]): Command {
  const [action, ...rest] = args;
  if ((action === 'list' || action === 'retire') && rest.length > 0) {
    throw new UsageError(`keys ${action} takes no arguments (got: ${rest.join(' ')})`);
  }
  if (action === 'list') return listKeys;
  if (action === 'retire') return retireKeys;
  if (action === 'rotate') {
    let parsed;
    try {
      parsed = parseArgs({ args: rest, options: { algorithm: { type: 'string' } } });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const algorithm = parsed.values.algorithm;
    if (algorithm !== undefined && !isSigningAlgorithm(algorithm)) {
      throw new UsageError(`--algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')} (got "${algorithm}")`);
    }
    return (app) => rotateKeys(app, algorithm);
  }
  throw new UsageError(
    action === undefined ? 'keys needs an action: list, rotate or retire' : `Unknown keys action: ${action}`,
  );
}

const day = (date: Date | null) => (date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

function printKeys(keys: KeyTimeline[]): void {
  const rows = [
    ['KID', 'ALGORITHM', 'STATE', 'CREATED', 'SIGNS FROM', 'VERIFIES UNTIL'],
    ...keys.map((key) => [
      key.fromSecretOption ? `${key.kid} (JWT_SECRET)` : key.kid,
      key.algorithm,
      key.state,
      day(key.createdAt),
      day(key.activatesAt),
      key.verifyUntil ? day(key.verifyUntil) : '-',
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows)
    console.log(
      row
        .map((cell, column) => cell.padEnd(widths[column]))
        .join('  ')
        .trimEnd(),
    );
}

async function listKeys(app: INestApplicationContext): Promise<number> {
  const keys = await app.get(KeyRotationService).list();
  if (keys.length === 0) console.log('No signing keys.');
  else printKeys(keys);
  return 0;
}

async function rotateKeys(app: INestApplicationContext, algorithm: SigningAlgorithm | undefined): Promise<number> {
  try {
    const rotated = await app.get(KeyRotationService).rotate(algorithm);
    console.log(
      `Published signing key ${rotated.kid} (${rotated.algorithm}); every instance has it now, and it signs from ${day(rotated.activatesAt)}.`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof KeyRotationPendingError)) throw error;
    console.error(error.message);
    return 1;
  }
}

async function retireKeys(app: INestApplicationContext): Promise<number> {
  const retired = await app.get(KeyRotationService).retire();
  console.log(retired.length === 0 ? 'No key to retire.' : `Retired ${retired.length} key(s): ${retired.join(', ')}.`);
  return 0;
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
      `Deleted ${result.revokedTokens} expired revoked token(s), ${result.sessions} ended session(s), ${result.loginFailures} old failed login(s), ${result.rateLimitHits} old rate-limit hit(s), ${result.deletedUsers} old tombstone(s) and ${result.accountTokens} expired account token(s) in ${result.statements} batch(es), and retired ${result.signingKeys} signing key(s).`,
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
