import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { serverUrl } from './database.js';
import { eventually } from './latch.js';
import { freePort } from './ports.js';

/** The pgbouncer binary: PGBOUNCER_PATH, the PATH, or Debian's /usr/sbin/pgbouncer. */
export function pgbouncerPath(): string | undefined {
  const candidates = [
    process.env.PGBOUNCER_PATH,
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'pgbouncer')),
    '/usr/sbin/pgbouncer',
    '/usr/local/sbin/pgbouncer',
  ];
  return candidates.find((path): path is string => typeof path === 'string' && path !== '' && existsSync(path));
}

/**
 * Why the pooler specs cannot run here, or null when they can. With CI=true a missing PgBouncer
 * is a failure (the caller fails a test with this reason); elsewhere the specs skip and say why.
 */
export function missingPgBouncerReason(): string | null {
  if (pgbouncerPath()) return null;
  return 'PgBouncer not found (set PGBOUNCER_PATH, or install it: apt-get install -y --no-install-recommends pgbouncer)';
}

export interface PgBouncer {
  port: number;
  /** `databaseUrl` (a URL of the suite's PostgreSQL) with PgBouncer's address instead: through the pooler. */
  through(databaseUrl: string): string;
  /** Its log so far (connections, errors), for a failure's message. */
  log(): string;
  stop(): Promise<void>;
}

/** uid and gid of a local user, from /etc/passwd. */
function localUser(name: string): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A real PgBouncer in transaction mode (pool_mode = transaction) in front of the suite's
 * PostgreSQL: each transaction, or each statement outside one, may run on a different server
 * connection. `server_round_robin` hands the idle server connections out in turn, so two
 * statements of one client outside a transaction do land on different ones as soon as the pool
 * has more than one, as they do under load. Clients are trusted (test only); PgBouncer logs in to
 * PostgreSQL with the suite's credentials. PgBouncer refuses to run as root: as root it runs as
 * the `postgres` user, which owns its directory.
 */
export async function startPgBouncer(options: { poolSize?: number } = {}): Promise<PgBouncer> {
  const binary = pgbouncerPath();
  if (!binary) throw new Error(missingPgBouncerReason() ?? 'PgBouncer not found');
  const server = new URL(serverUrl());
  const user = decodeURIComponent(server.username || 'postgres');
  const password = decodeURIComponent(server.password);
  const dir = mkdtempSync(join(tmpdir(), 'auth-pgbouncer-'));
  const port = await freePort();
  const quoted = (value: string) => `'${value.replace(/'/g, "''")}'`;
  const serverParams = [
    `host=${server.hostname.replace(/^\[|\]$/g, '')}`,
    `port=${server.port || '5432'}`,
    `user=${quoted(user)}`,
    ...(password ? [`password=${quoted(password)}`] : []),
  ].join(' ');
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = ${serverParams}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      'server_round_robin = 1',
      `default_pool_size = ${options.poolSize ?? 10}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits,options,statement_timeout',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  const runAs = process.getuid?.() === 0 ? localUser('postgres') : null;
  if (process.getuid?.() === 0 && !runAs)
    throw new Error('PgBouncer refuses to run as root, and there is no postgres user');
  if (runAs) {
    chmodSync(dir, 0o700);
    for (const file of ['', 'users.txt', 'pgbouncer.ini']) chownSync(join(dir, file), runAs.uid, runAs.gid);
  }
  let output = '';
  const child: ChildProcess = spawn(binary, [join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const log = () => {
    const file = join(dir, 'pgbouncer.log');
    return output + (existsSync(file) ? readFileSync(file, 'utf8') : '');
  };
  const through = (databaseUrl: string) => {
    const url = new URL(databaseUrl);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    return url.toString();
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // Ready once a query goes through it to the server.
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`PgBouncer exited with ${child.exitCode}:\n${log()}`);
      const client = new pg.Client({ connectionString: through(`${serverUrl()}/postgres`) });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } catch {
        return false;
      } finally {
        await client.end().catch(() => {});
      }
    }, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`PgBouncer did not start: ${(error as Error).message}\n${log()}`, { cause: error });
  }
  return { port, through, log, stop };
}
