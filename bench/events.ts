import {
  closedLoops,
  machine,
  PASSWORD,
  percentile,
  type PhaseResult,
  post,
  startDatabase,
  startServer,
  type BenchServer,
} from './support.js';

/**
 * npm run bench:events: what the event store and the new-device check cost a login, in one run of
 * interleaved rounds on Express, three servers of the example app on one database:
 *  - `store`: the defaults (each login writes its `login_succeeded` row in the statement that
 *    writes the session, and that statement also asks whether the device is new);
 *  - `no store`: AUTH_EVENT_STORE=false (no row; the new-device check reads sessions only);
 *  - `neither`: AUTH_EVENT_STORE=false and NEW_DEVICE_ALERTS=false (the login of 0.3.0).
 * WORKERS closed loops of password logins (argon2id) at once, each on its own accounts, signed in
 * from a known device (the common case: no alert is written). Printed: rate, p50 and p99 latency
 * and the server's CPU per login, and the ratios. No target: the figures go to docs/benchmarks.md.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WORKERS = 16;
const ACCOUNTS_PER_WORKER = 4;

async function login(server: BenchServer, email: string): Promise<void> {
  const response = await post(server.base, '/auth/login', { email, password: PASSWORD, deviceName: 'Bench laptop' });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`login: ${response.status} ${body}`);
}

/** A closed loop per worker, each signing in its own accounts in turn. */
const phase = (server: BenchServer, emails: string[][]): Promise<PhaseResult> =>
  closedLoops(server, emails.length, SECONDS, (worker, turn) =>
    login(server, emails[worker][turn % emails[worker].length]),
  );

async function main(): Promise<void> {
  const database = await startDatabase();
  const common = {
    TRUST_PROXY: 'loopback',
    REGISTER_MAX_PER_IP: '1000000',
    REGISTER_MAX_PER_NETWORK: '1000000',
    PASSWORD_CHECKS_MAX_PER_IP: '1000000',
    PASSWORD_CHECKS_WINDOW: '1',
    PASSWORD_CHECKS_MAX_PER_NETWORK: '1000000',
    // Logins under way count against the client until they succeed: 64 at once from one address.
    LOGIN_MAX_FAILED_ATTEMPTS_PER_IP: '100000',
  };
  const variants: Array<{ name: string; env: Record<string, string> }> = [
    { name: 'store', env: {} },
    { name: 'no store', env: { AUTH_EVENT_STORE: 'false' } },
    { name: 'neither', env: { AUTH_EVENT_STORE: 'false', NEW_DEVICE_ALERTS: 'false' } },
  ];
  const servers: BenchServer[] = [];
  try {
    for (const variant of variants) servers.push(await startServer(database.url, { ...common, ...variant.env }));
    // Each server its own accounts (a login's cost grows with the user's sessions and events).
    const emails = await Promise.all(
      variants.map(async (variant, index) => {
        const perWorker: string[][] = Array.from({ length: WORKERS }, () => []);
        for (let worker = 0; worker < WORKERS; worker += 1) {
          for (let n = 0; n < ACCOUNTS_PER_WORKER; n += 1) {
            const email = `events-${index}-${worker}-${n}@example.com`;
            await post(servers[index].base, '/auth/register', { email, password: PASSWORD });
            perWorker[worker].push(email);
          }
        }
        return perWorker;
      }),
    );
    // Warm-up: a second of each, which also makes every account's device a known one.
    for (let index = 0; index < variants.length; index += 1) {
      await Promise.all(emails[index].flat().map((email) => login(servers[index], email)));
      const until = performance.now() + 1000;
      await Promise.all(
        emails[index].map(async (mine) => {
          for (let turn = 0; performance.now() < until; turn += 1)
            await login(servers[index], mine[turn % mine.length]);
        }),
      );
    }
    const rounds: PhaseResult[][] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const results: PhaseResult[] = [];
      for (let index = 0; index < variants.length; index += 1) results.push(await phase(servers[index], emails[index]));
      rounds.push(results);
      console.log(
        `round ${round + 1}: ${variants.map((variant, index) => `${variant.name} ${results[index].rate.toFixed(0)}/s`).join(', ')}`,
      );
    }
    const median = (values: number[]) => percentile(values, 50);
    console.log(`\n${machine()}, PostgreSQL ${database.version}; ${WORKERS} at once, ${ROUNDS} rounds of ${SECONDS} s`);
    for (let index = 0; index < variants.length; index += 1) {
      const latencies = rounds.flatMap((round) => round[index].latencies);
      console.log(
        `login, ${variants[index].name.padEnd(9)} ${median(rounds.map((round) => round[index].rate)).toFixed(0)} /s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, server CPU ${median(rounds.map((round) => round[index].serverCpuMs)).toFixed(2)} ms`,
      );
    }
    const ratio = (a: number, b: number) => median(rounds.map((round) => round[a].rate / round[b].rate)).toFixed(3);
    console.log(`store vs no store: ${ratio(0, 1)}×; store vs neither: ${ratio(0, 2)}×`);
    const rows = await database.query(`SELECT count(*)::int AS n FROM auth_events WHERE type = 'login_succeeded'`);
    console.log(`login_succeeded rows written: ${rows[0].n}`);
  } finally {
    for (const server of servers) await server.stop();
    await database.stop();
  }
}

await main();
