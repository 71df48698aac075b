import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import {
  finish,
  machine,
  PASSWORD,
  percentile,
  post,
  registerAndLogin,
  startDatabase,
  startServer,
  verdict,
  type BenchServer,
} from './support.js';

/**
 * npm run bench:writes: the write paths against their own limits on this machine, in one run of
 * interleaved rounds, as ratios (each the median of its per-round ratios):
 *  - logins (correct passwords, LOGIN_CONNECTIONS at once, USERS accounts) against the bare
 *    argon2id verification rate with the module's hasher, as many at once, in a process of its own;
 *  - logins from one client address against logins from many;
 *  - refreshes (REFRESH_CHAINS rotating chains, each a session that presents the token it was
 *    last given) against `pgbench -N` (short write transactions) with as many clients on the
 *    same PostgreSQL;
 *  - Fastify's guarded GET /profile against its open GET /health sent the same request bytes
 *    (the token is sent to /health too and ignored), as the server's CPU time per request over a
 *    fixed number of requests, and as requests per second.
 * Runs under scripts/with-pg15.sh --durable (PostgreSQL 15's defaults: every commit flushed),
 * whose pgbench it uses (PG15_BIN). Exits 1 when a target is missed.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const LOGIN_CONNECTIONS = 16;
const USERS = 128;
/** Client addresses of the many-address logins (by X-Forwarded-For; the server trusts loopback). */
const ADDRESSES = 16;
const REFRESH_CHAINS = 32;
/** Requests per measurement of the server's CPU time on Fastify, and the rate they are sent at. */
const CPU_REQUESTS = Number(process.env.BENCH_CPU_REQUESTS ?? 30_000);
const CPU_RATE = Number(process.env.BENCH_CPU_RATE ?? 6_000);
const PGBENCH = join(process.env.PG15_BIN ?? '/usr/lib/postgresql/15/bin', 'pgbench');
const HASH_RATE = join(dirname(fileURLToPath(import.meta.url)), 'hash-rate.js');
const run = promisify(execFile);
/** BENCH_PHASES=login,refresh (for a profile of one path): the others are skipped, and no target is judged. */
const PHASES = new Set((process.env.BENCH_PHASES ?? 'hash,login,refresh,pgbench,fastify').split(','));

const TARGETS = {
  loginVsHash: 0.8,
  refreshVsPgbench: 0.3,
  sameVsManyAddresses: 0.9,
  fastifySameBytes: 0.85,
};

function median(values: number[]): number {
  return percentile(values, 50);
}

/** CPU time (ms) of every PostgreSQL process of this machine so far (user + system), from /proc. */
function postgresCpuMs(): number {
  const tick = 10; // USER_HZ is 100 on Linux
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const fields = stat.slice(close + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * tick;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

/** The server's CPU time so far, in µs (all its threads, the hash's too): in all, and in user space. */
async function serverCpu(server: BenchServer): Promise<{ micros: number; user: number }> {
  return (await (await fetch(`${server.base}/bench/cpu`)).json()) as { micros: number; user: number };
}

/**
 * Where a request's CPU time goes, in ms per request: the server (main thread and the hash's
 * threads), PostgreSQL, and this load generator, over one measured run.
 */
async function cpuSplit(
  server: BenchServer,
  runLoad: () => Promise<Run>,
): Promise<{ run: Run; server: number; postgres: number; generator: number }> {
  const before = { server: (await serverCpu(server)).micros, postgres: postgresCpuMs(), generator: process.cpuUsage() };
  const result = await runLoad();
  const generator = process.cpuUsage(before.generator);
  const per = (ms: number) => ms / Math.max(1, result.total);
  return {
    run: result,
    server: per(((await serverCpu(server)).micros - before.server) / 1000),
    postgres: per(postgresCpuMs() - before.postgres),
    generator: per((generator.user + generator.system) / 1000),
  };
}

/** Bare argon2id verifications per second, `concurrency` at once, in a fresh process. */
async function hashRate(concurrency: number): Promise<number> {
  const { stdout } = await run(process.execPath, [HASH_RATE, String(SECONDS), String(concurrency)]);
  const match = /HASH_RATE ([\d.]+)/.exec(stdout);
  if (!match) throw new Error(`hash-rate printed: ${stdout}`);
  return Number(match[1]);
}

/** pgbench -N (TPC-B without the contended branch and teller updates) on its own database. */
async function pgbenchRate(url: string, clients: number): Promise<number> {
  const { stdout } = await run(PGBENCH, ['-n', '-N', '-c', String(clients), '-j', '2', '-T', String(SECONDS), url]);
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(stdout);
  if (!match) throw new Error(`pgbench printed: ${stdout}`);
  return Number(match[1]);
}

interface Run {
  rps: number;
  p50: number;
  non2xx: number;
  errors: number;
  total: number;
}

function cannon(options: autocannon.Options): Promise<Run> {
  return new Promise((resolve, reject) => {
    autocannon(options, (error, result) => {
      if (error) return reject(error);
      resolve({
        rps: result.requests.total / (result.duration || 1),
        p50: result.latency.p50,
        non2xx: result.non2xx,
        errors: result.errors,
        total: result.requests.total,
      });
    });
  });
}

/**
 * Correct logins round-robin over the users, from one address or from `addresses` of them (by
 * X-Forwarded-For). The requests are built once, so that the load generator, which shares the
 * machine, costs as little as it can: one autocannon connection each, each walking the users
 * from its own place (together on one account, they would fill its throttle: an attempt counts
 * as a failure until it succeeds).
 */
async function loginLoad(server: BenchServer, emails: string[], addresses: number, seconds: number): Promise<Run> {
  const requests = emails.map((email, n) => ({
    method: 'POST' as const,
    path: '/auth/login',
    headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${(n % addresses) + 1}` },
    body: JSON.stringify({ email, password: PASSWORD }),
  }));
  const step = Math.floor(requests.length / LOGIN_CONNECTIONS);
  const runs = await Promise.all(
    Array.from({ length: LOGIN_CONNECTIONS }, (_, c) =>
      cannon({
        url: server.base,
        connections: 1,
        duration: seconds,
        requests: [...requests.slice(c * step), ...requests.slice(0, c * step)],
      }),
    ),
  );
  const sum = (pick: (run: Run) => number) => runs.reduce((total, run) => total + pick(run), 0);
  return {
    rps: sum((run) => run.rps),
    p50: percentile(
      runs.map((run) => run.p50),
      50,
    ),
    non2xx: sum((run) => run.non2xx),
    errors: sum((run) => run.errors),
    total: sum((run) => run.total),
  };
}

interface Chain {
  refreshToken: string;
}

/**
 * REFRESH_CHAINS sessions, each refreshed with the token it was last given: a connection takes a
 * chain, presents its token, and puts it back with the new one. A chain whose answer was cut off
 * by the end of a run (the server may have rotated it) is replaced by a new login before the next.
 */
class RefreshChains {
  private free: Chain[] = [];
  private out = 0;

  constructor(
    private readonly server: BenchServer,
    private readonly email: string,
  ) {}

  async replenish(): Promise<void> {
    this.out = 0;
    while (this.free.length < REFRESH_CHAINS) {
      const response = await post(this.server.base, '/auth/login', { email: this.email, password: PASSWORD });
      if (response.status !== 200) throw new Error(`chain login: ${response.status} ${await response.text()}`);
      this.free.push({ refreshToken: ((await response.json()) as { refreshToken: string }).refreshToken });
    }
  }

  async load(seconds: number): Promise<Run> {
    await this.replenish();
    const result = await cannon({
      url: this.server.base,
      connections: REFRESH_CHAINS,
      duration: seconds,
      requests: [
        {
          method: 'POST',
          path: '/auth/refresh',
          setupRequest: (request, context) => {
            const chain = this.free.pop();
            if (!chain) throw new Error('no free refresh chain');
            this.out += 1;
            (context as { chain?: Chain }).chain = chain;
            return {
              ...request,
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ refreshToken: chain.refreshToken }),
            };
          },
          onResponse: (status, body, context) => {
            const chain = (context as { chain?: Chain }).chain;
            if (!chain) return;
            this.out -= 1;
            // A refused chain is dropped (and counted as non-2xx); replenish() replaces it.
            if (status === 200) {
              chain.refreshToken = (JSON.parse(body) as { refreshToken: string }).refreshToken;
              this.free.push(chain);
            }
          },
        },
      ],
    });
    return result;
  }
}

/**
 * The server's CPU time per request (µs: all of it, and its user-space part) over CPU_REQUESTS
 * requests sent at CPU_RATE per second, and the rate they were served at. At a rate both routes
 * sustain, server and load generator wait for each other alike on both: flat out, the slower
 * route leaves the generator idle, and every answer then pays for waking it (kernel time that
 * has nothing to do with the route).
 */
async function cpuPerRequest(
  server: BenchServer,
  path: string,
  token: string,
): Promise<{ cpu: number; user: number; rps: number }> {
  const before = await serverCpu(server);
  const started = performance.now();
  const result = await cannon({
    url: `${server.base}${path}`,
    connections: 20,
    amount: CPU_REQUESTS,
    overallRate: CPU_RATE,
    headers: { authorization: `Bearer ${token}` },
  });
  const seconds = (performance.now() - started) / 1000;
  const after = await serverCpu(server);
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  }
  return {
    cpu: (after.micros - before.micros) / result.total,
    user: (after.user - before.user) / result.total,
    rps: result.total / seconds,
  };
}

async function main(): Promise<void> {
  if (!existsSync(PGBENCH)) {
    throw new Error(`pgbench not found at ${PGBENCH}: apt-get install -y postgresql-15, or set PG15_BIN`);
  }
  const database = await startDatabase();
  if (process.env.BENCH_STATEMENTS) {
    await database.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  }
  const pgbenchDatabase = `auth_bench_pgbench_${randomBytes(4).toString('hex')}`;
  await database.query(`CREATE DATABASE "${pgbenchDatabase}"`);
  const pgbenchUrl = new URL(database.url);
  pgbenchUrl.pathname = `/${pgbenchDatabase}`;
  await run(PGBENCH, ['-i', '-q', '-s', '10', pgbenchUrl.toString()]);

  const limits = {
    TRUST_PROXY: 'loopback',
    REGISTER_MAX_PER_IP: '1000000',
    REGISTER_MAX_PER_NETWORK: '1000000',
    // One address logs in at the machine's whole login rate: a budget that lets it through (1,000
    // checks a second). Its check reads up to that many of the client's recent hits; with a long
    // window (BENCH_PASSWORD_CHECKS_WINDOW=60, BENCH_PASSWORD_CHECKS_MAX=1000000) every login reads
    // the last minute's (docs/benchmarks.md shows both).
    PASSWORD_CHECKS_MAX_PER_IP: process.env.BENCH_PASSWORD_CHECKS_MAX ?? '1000',
    PASSWORD_CHECKS_WINDOW: process.env.BENCH_PASSWORD_CHECKS_WINDOW ?? '1',
    PASSWORD_CHECKS_MAX_PER_NETWORK: '1000000',
  };
  const express = await startServer(
    database.url,
    limits,
    (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  const fastify = await startServer(database.url, { ...limits, HTTP_ADAPTER: 'fastify' });
  try {
    const emails = Array.from({ length: USERS }, (_, i) => `writer-${i}@example.com`);
    for (let i = 0; i < emails.length; i += 16) {
      await Promise.all(
        emails.slice(i, i + 16).map(async (email) => {
          const response = await post(express.base, '/auth/register', { email, password: PASSWORD });
          if (response.status !== 201) throw new Error(`register ${email}: ${response.status}`);
        }),
      );
    }
    const chains = new RefreshChains(express, emails[0]);
    const { accessToken } = await registerAndLogin(fastify.base, 'fastify-reader@example.com');

    const samples: Record<string, number[]> = {};
    const add = (key: string, value: number) => (samples[key] ??= []).push(value);
    const ok = (what: string, result: Run) => {
      if (result.errors > 0 || result.non2xx > 0) {
        throw new Error(`${what}: ${result.errors} errors, ${result.non2xx} non-2xx of ${result.total}`);
      }
      return result;
    };
    // Warm-up: JIT, connection pools, the tables' pages.
    if (PHASES.has('login')) ok('login warm-up', await loginLoad(express, emails, ADDRESSES, 1));
    if (PHASES.has('refresh')) await chains.load(1);
    if (PHASES.has('fastify')) {
      await cpuPerRequest(fastify, '/health', accessToken);
      await cpuPerRequest(fastify, '/profile', accessToken);
    }
    console.error('warmed up');

    for (let round = 0; round < ROUNDS; round += 1) {
      if (PHASES.has('hash')) add('hash', await hashRate(LOGIN_CONNECTIONS));
      if (PHASES.has('login')) {
        const same = ok('login, one address', await loginLoad(express, emails, 1, SECONDS));
        add('login same', same.rps);
        add('login same p50', same.p50);
        const split = await cpuSplit(express, () => loginLoad(express, emails, ADDRESSES, SECONDS));
        const many = ok('login, many addresses', split.run);
        add('login many', many.rps);
        add('login cpu server', split.server);
        add('login cpu postgres', split.postgres);
        add('login cpu generator', split.generator);
      }
      if (PHASES.has('refresh')) {
        const split = await cpuSplit(express, () => chains.load(SECONDS));
        const refresh = split.run;
        add('refresh cpu server', split.server);
        add('refresh cpu postgres', split.postgres);
        add('refresh cpu generator', split.generator);
        // Refused refreshes are only the ones cut off by the end of a run (at most one per chain).
        if (refresh.errors > 0 || refresh.non2xx > REFRESH_CHAINS) {
          throw new Error(`refresh: ${refresh.errors} errors, ${refresh.non2xx} non-2xx of ${refresh.total}`);
        }
        add('refresh', refresh.rps);
        add('refresh p50', refresh.p50);
      }
      if (PHASES.has('pgbench')) add('pgbench', await pgbenchRate(pgbenchUrl.toString(), REFRESH_CHAINS));
      if (PHASES.has('fastify')) {
        const health = await cpuPerRequest(fastify, '/health', accessToken);
        const profile = await cpuPerRequest(fastify, '/profile', accessToken);
        const guarded = await cpuPerRequest(fastify, '/bench/guarded', accessToken);
        add('fastify guarded cpu', guarded.cpu);
        add('fastify health user', health.user);
        add('fastify profile user', profile.user);
        add('fastify guarded user', guarded.user);
        add('fastify health cpu', health.cpu);
        add('fastify profile cpu', profile.cpu);
        add('fastify health rps', health.rps);
        add('fastify profile rps', profile.rps);
      }
      console.error(`round ${round + 1}/${ROUNDS} done`);
    }

    console.log(`\nper round: ${JSON.stringify(samples)}`);
    if (process.env.BENCH_STATEMENTS) {
      // Where the database's time went (the server needs PG15_EXTRA_SETTINGS="-c shared_preload_libraries=pg_stat_statements").
      const top = await database.query<{ calls: string; total_ms: number; mean_ms: number; query: string }>(
        `SELECT calls, round(total_exec_time + total_plan_time) AS total_ms,
                round(((total_exec_time + total_plan_time) / calls)::numeric, 3) AS mean_ms,
                left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS query
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND calls > 0 ORDER BY total_exec_time + total_plan_time DESC LIMIT 30`,
      );
      for (const row of top) console.log(`${row.calls}\t${row.total_ms} ms\t${row.mean_ms} ms\t${row.query}`);
    }
    if (PHASES.size < 5) return;
    const perRound = (a: string, b: string) => median(samples[a].map((value, i) => value / samples[b][i]));
    const figure = (key: string, digits = 0) => median(samples[key]).toFixed(digits);
    console.log(`\n${machine()}; PostgreSQL ${database.version}; ${ROUNDS} interleaved rounds of ${SECONDS} s`);
    console.log(
      `Password-check budget: ${limits.PASSWORD_CHECKS_MAX_PER_IP} per ${limits.PASSWORD_CHECKS_WINDOW} s; Fastify at ${CPU_RATE} requests/s, ${CPU_REQUESTS} per measurement`,
    );
    console.log('\n| measured (median of the rounds) | value |');
    console.log('|---|---:|');
    const rows1: Array<[string, string]> = [
      [`bare argon2id verify, ${LOGIN_CONNECTIONS} at once`, `${figure('hash')} /s`],
      [
        `POST /auth/login, ${LOGIN_CONNECTIONS} connections, ${USERS} users, one address`,
        `${figure('login same')} /s (p50 ${figure('login same p50')} ms)`,
      ],
      [`POST /auth/login, the same from ${ADDRESSES} addresses`, `${figure('login many')} /s`],
      [
        "a login's CPU: server (its hash included) / PostgreSQL / load generator",
        `${figure('login cpu server', 1)} / ${figure('login cpu postgres', 1)} / ${figure('login cpu generator', 2)} ms`,
      ],
      [
        `POST /auth/refresh, ${REFRESH_CHAINS} rotating chains`,
        `${figure('refresh')} /s (p50 ${figure('refresh p50')} ms)`,
      ],
      [
        "a refresh's CPU: server / PostgreSQL / load generator",
        `${figure('refresh cpu server', 2)} / ${figure('refresh cpu postgres', 2)} / ${figure('refresh cpu generator', 2)} ms`,
      ],
      [`pgbench -N, ${REFRESH_CHAINS} clients`, `${figure('pgbench')} tps`],
      [
        'Fastify GET /health, the token sent and ignored: server CPU per request (user space)',
        `${figure('fastify health cpu', 1)} µs (${figure('fastify health user', 1)} µs)`,
      ],
      [
        'Fastify GET /profile: server CPU per request (user space)',
        `${figure('fastify profile cpu', 1)} µs (${figure('fastify profile user', 1)} µs)`,
      ],
      [
        'Fastify GET /bench/guarded (guarded, answers what /health answers): server CPU per request (user space)',
        `${figure('fastify guarded cpu', 1)} µs (${figure('fastify guarded user', 1)} µs)`,
      ],
    ];
    for (const [name, value] of rows1) console.log(`| ${name} | ${value} |`);

    const rows: Array<[string, number, number | null]> = [
      ['login vs bare argon2id verify', perRound('login same', 'hash'), TARGETS.loginVsHash],
      ['refresh vs pgbench -N', perRound('refresh', 'pgbench'), TARGETS.refreshVsPgbench],
      ['logins from one address vs from many', perRound('login same', 'login many'), TARGETS.sameVsManyAddresses],
      [
        'Fastify /profile vs same-bytes /health, by server CPU per request',
        perRound('fastify health cpu', 'fastify profile cpu'),
        TARGETS.fastifySameBytes,
      ],
      [
        'Fastify /profile vs same-bytes /health, by user-space CPU per request',
        perRound('fastify health user', 'fastify profile user'),
        null,
      ],
      [
        'Fastify guarded /bench/guarded vs same-bytes /health, by server CPU per request',
        perRound('fastify health cpu', 'fastify guarded cpu'),
        null,
      ],
    ];
    console.log('\n| ratio | measured | target |');
    console.log('|---|---:|---|');
    for (const [name, value, target] of rows) {
      console.log(
        `| ${name} | ${value.toFixed(2)}× | ${target === null ? '—' : `≥ ${target}× (${verdict(value >= target, name)})`} |`,
      );
    }
  } finally {
    await express.stop();
    await fastify.stop();
    await database.query(`DROP DATABASE IF EXISTS "${pgbenchDatabase}" WITH (FORCE)`);
    await database.stop();
  }
  finish();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
