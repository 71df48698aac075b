import { Secret, TOTP } from 'otpauth';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { runAuthMigrations } from '../test/support/database.js';
import { freePort } from '../test/support/ports.js';
import { startPostgresServer } from '../test/support/postgres-server.js';

export const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';
export const PASSWORD = 'correct horse battery';
export const KEY_ENCRYPTION_SECRET = 'bench-key-encryption-secret-bench-key-encryption';
const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'server.js');
/** The verify-only service (test/verifier-app) in a process of its own. */
export const VERIFIER_SERVER = join(dirname(fileURLToPath(import.meta.url)), 'verifier-server.js');

export interface BenchDatabase {
  url: string;
  /** PostgreSQL's version, e.g. "18.4". */
  version: string;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

/** A database of its own on the server of BENCH_DATABASE_URL, dropped by stop(). */
async function databaseOnGivenServer(serverUrl: string): Promise<{ url: string; stop(): Promise<void> }> {
  const name = `auth_bench_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), stop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}

/** A fresh embedded PostgreSQL in a temporary directory. */
async function embeddedDatabase(): Promise<{ url: string; stop(): Promise<void> }> {
  const server = await startPostgresServer(['-c', 'max_connections=200']);
  return { url: server.url, stop: server.stop };
}

/**
 * A fresh database, migrated: on the PostgreSQL server of BENCH_DATABASE_URL when it is set
 * (e.g. by scripts/with-pg15.sh), otherwise on an embedded PostgreSQL started for the run.
 */
export async function startDatabase(): Promise<BenchDatabase> {
  const given = process.env.BENCH_DATABASE_URL;
  const { url, stop } = given ? await databaseOnGivenServer(given) : await embeddedDatabase();
  await runAuthMigrations(url);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const [{ version }] = (await client.query(`SELECT current_setting('server_version') AS version`)).rows as Array<{
    version: string;
  }>;
  return {
    url,
    version,
    query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
    stop: async () => {
      await client.end();
      await stop();
    },
  };
}

/** Another database on the same PostgreSQL server, migrated: for servers that must not share signing keys. */
export async function siblingDatabase(database: BenchDatabase): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `auth_bench_${randomBytes(6).toString('hex')}`;
  await database.query(`CREATE DATABASE "${name}"`);
  const url = new URL(database.url);
  url.pathname = `/${name}`;
  await runAuthMigrations(url.toString());
  return {
    url: url.toString(),
    drop: async () => void (await database.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

/** Characters of a server's output kept once it has started (its log's end, for errors). */
const MAX_KEPT_OUTPUT = 64_000;

export interface BenchServer {
  base: string;
  pid: number;
  /** Start to listening, in ms, as the server measured it. */
  readyMs: number;
  /** Load of the revocation state, in ms, from the module's log line. */
  loadMs: number;
  output(): string;
  stop(): Promise<void>;
}

/** The example app plus the comparison routes, in a child process. */
export async function startServer(
  databaseUrl: string,
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
  script = SERVER,
): Promise<BenchServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', ...nodeArgs, script], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      JWT_SECRET: SECRET,
      KEY_ENCRYPTION_SECRET,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let started = false;
  const ready = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      // Once started, the server's log (a security event per login) is only kept, and only its
      // end: reading it all again on every chunk cost this process (the load generator) more CPU
      // than the requests it sends.
      if (started) {
        if (output.length > 2 * MAX_KEPT_OUTPUT) output = output.slice(-MAX_KEPT_OUTPUT);
        return;
      }
      const match = /BENCH_READY (\d+)/.exec(output);
      if (match) {
        started = true;
        resolve(Number(match[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  const readyMs = await ready;
  const loadMs = Number(/Revocation state loaded in (\d+) ms/.exec(output)?.[1] ?? NaN);
  return {
    base: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    readyMs,
    loadMs,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

export async function post(base: string, path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

export async function get(
  base: string,
  path: string,
  token?: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const response = await fetch(`${base}${path}`, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
  await response.arrayBuffer();
  return response.status;
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

export async function registerAndLogin(base: string, email: string): Promise<Tokens> {
  await post(base, '/auth/register', { email, password: PASSWORD });
  const response = await post(base, '/auth/login', { email, password: PASSWORD });
  if (response.status !== 200) throw new Error(`login failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as Tokens;
}

/**
 * Registers, turns an authenticator app on and signs in with the password and a code: an access
 * token with `amr` `pwd otp mfa`, as @RequireSecondFactor() routes take. Real time: the code that
 * turned the app on is spent for its 30-second step, so the sign-in uses the next step's (the
 * window accepts one step ahead).
 */
export async function twoFactorLogin(base: string, email: string): Promise<Tokens> {
  const first = await registerAndLogin(base, email);
  const setup = await post(base, '/auth/mfa/totp/setup', {}, first.accessToken);
  const { secret } = (await setup.json()) as { secret: string };
  const code = (offsetSeconds: number) =>
    TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: Date.now() + offsetSeconds * 1000 });
  const enabled = await post(base, '/auth/mfa/totp/enable', { code: code(0) }, first.accessToken);
  if (enabled.status !== 200) throw new Error(`enable failed: ${enabled.status} ${await enabled.text()}`);
  const login = await post(base, '/auth/login', { email, password: PASSWORD });
  const { mfaToken } = (await login.json()) as { mfaToken: string };
  const second = await post(base, '/auth/login/mfa', { mfaToken, code: code(30) });
  if (second.status !== 200) throw new Error(`second step failed: ${second.status} ${await second.text()}`);
  return (await second.json()) as Tokens;
}

/** Logs in with cookie transport; the Cookie header a browser would then send to the app's routes. */
export async function cookieLogin(base: string, email: string): Promise<string> {
  const response = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-auth-transport': 'cookie' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (response.status !== 200) throw new Error(`cookie login failed: ${response.status} ${await response.text()}`);
  const access = response.headers.getSetCookie().find((cookie) => cookie.startsWith('__Host-auth_access='));
  if (!access) throw new Error('cookie login set no access cookie');
  return access.split(';', 1)[0];
}

export interface LoadResult {
  rps: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** autocannon against one route: warm-up, then the measured run. */
export async function load(
  url: string,
  options: {
    token?: string;
    seconds?: number;
    connections?: number;
    method?: 'GET' | 'POST';
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<LoadResult> {
  const headers: Record<string, string> = {
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
  if (options.body) headers['content-type'] = 'application/json';
  const run = (duration: number) =>
    autocannon({
      url,
      method: options.method ?? 'GET',
      headers,
      body: options.body,
      connections: options.connections ?? 20,
      duration,
    });
  await run(1);
  const result = await run(options.seconds ?? 6);
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
  };
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** Targets missed in this run; `finish()` turns any into a non-zero exit code. */
const missed: string[] = [];

/** 'met' or 'NOT met'; a miss (named by `what`) makes the benchmark exit non-zero. */
export function verdict(ok: boolean, what = 'a target'): string {
  if (!ok) missed.push(what);
  return ok ? 'met' : 'NOT met';
}

/** Ends a benchmark: exit code 1, naming them, when any target of the README was missed. */
export function finish(): void {
  if (missed.length === 0) return;
  console.error(`\nTargets missed: ${missed.join('; ')}`);
  // Exit now: process.exitCode alone could be overwritten by a library before the process ends.
  process.exit(1);
}

/** One timed phase of closed loops: the rate, each operation's latency, the server's CPU per operation. */
export interface PhaseResult {
  rate: number;
  latencies: number[];
  serverCpuMs: number;
}

/**
 * `workers` closed loops of `step` against `server` for `seconds`; each loop's step gets the
 * loop's number and its turn.
 */
export async function closedLoops(
  server: BenchServer,
  workers: number,
  seconds: number,
  step: (worker: number, turn: number) => Promise<void>,
): Promise<PhaseResult> {
  const latencies: number[] = [];
  const cpuBefore = cpuMs(server.pid);
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let turn = 0; performance.now() < until; turn += 1) {
        const at = performance.now();
        await step(worker, turn);
        latencies.push(performance.now() - at);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return {
    rate: latencies.length / elapsed,
    latencies,
    serverCpuMs: (cpuMs(server.pid) - cpuBefore) / latencies.length,
  };
}

/** CPU time (ms, user + system) the process `pid` has used so far, from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
