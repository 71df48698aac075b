import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AUTH_ENTITIES, AUTH_MIGRATIONS } from '../../src/auth/index.js';

/** Server URL (no database) of the PostgreSQL the global setup started or was given. */
export function serverUrl(): string {
  const url = process.env.TEST_PG_SERVER_URL;
  if (!url) throw new Error('TEST_PG_SERVER_URL is not set: run the tests through jest (global setup)');
  return url;
}

export const TEMPLATE_DATABASE = 'auth_test_template';
/** Serialises the template's creation across Jest workers. */
const TEMPLATE_LOCK_KEY = 7_302_114_999;

export function databaseUrl(name: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

export async function withAdminClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl(process.env.TEST_PG_ADMIN_DATABASE ?? 'postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** Runs the module's migrations on the database of `url`, as a host would. */
export async function runAuthMigrations(url: string): Promise<void> {
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    entities: AUTH_ENTITIES,
    // TypeORM's defaults, as a host keeps them (every migration in one transaction).
    migrations: AUTH_MIGRATIONS,
  });
  await dataSource.initialize();
  try {
    await dataSource.runMigrations();
  } finally {
    await dataSource.destroy();
  }
}

let templateReady: Promise<void> | undefined;

/** Creates and migrates the template database once per run (whichever worker comes first). */
function ensureTemplate(): Promise<void> {
  templateReady ??= withAdminClient(async (client) => {
    await client.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK_KEY]);
    try {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DATABASE]);
      if (rowCount) return;
      const building = `${TEMPLATE_DATABASE}_building`;
      await client.query(`DROP DATABASE IF EXISTS "${building}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${building}"`);
      await runAuthMigrations(databaseUrl(building));
      await client.query(`ALTER DATABASE "${building}" RENAME TO "${TEMPLATE_DATABASE}"`);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK_KEY]);
    }
  });
  return templateReady;
}

/** A fresh database for one test file, copied from the migrated template (tens of milliseconds). */
export async function createTestDatabase(options: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = `auth_test_${randomBytes(6).toString('hex')}`;
  if (options.migrated !== false) await ensureTemplate();
  const template = options.migrated === false ? 'template0' : TEMPLATE_DATABASE;
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return {
    name,
    url: databaseUrl(name),
    drop: () =>
      withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

/**
 * A fresh database whose collation folds case the way Debian's default (`C.UTF-8`) does, where
 * PostgreSQL's `lower('İ')` is `i`, migrated with the module's migrations. On a server without
 * that locale, creating it fails (and so does the spec that needs it).
 */
export async function createUtf8TestDatabase(): Promise<TestDatabase> {
  const name = `auth_test_utf8_${randomBytes(6).toString('hex')}`;
  await withAdminClient((client) =>
    client.query(
      `CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'`,
    ),
  );
  await runAuthMigrations(databaseUrl(name));
  return {
    name,
    url: databaseUrl(name),
    drop: () =>
      withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}
