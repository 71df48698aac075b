import { SoftAuthenticator, type SoftCredential } from '../test/support/webauthn.js';
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
 * npm run bench:passkeys: what a passkey sign-in costs next to the module's other sign-in paths,
 * in one run of interleaved rounds on Express:
 *  - passkey sign-ins, the whole ceremony as a browser runs it with autofill: request options
 *    without an email (discoverable credentials), an ES256 assertion signed by a software
 *    authenticator in this process, the sign-in (challenge spent, signature and counter checked,
 *    session opened);
 *  - password logins of the same accounts (argon2id);
 *  - refreshes (each worker a rotating chain), the cheapest write path, as the yardstick of what
 *    the database allows.
 * WORKERS closed loops at once for each; each account (and so each credential's counter) belongs
 * to one worker. Printed: rates, latencies (a passkey sign-in's is both requests), the server's CPU
 * per operation, and the ratios. There is no target: the figures go to docs/benchmarks.md.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WORKERS = 16;
const ACCOUNTS_PER_WORKER = 4;
/** The example app's origin as its PUBLIC_URL says: the relying party (rpId localhost). */
const ORIGIN = 'http://localhost:3000';
const CEREMONY = { origin: ORIGIN, rpId: 'localhost' };

interface Account {
  email: string;
  credential: SoftCredential;
}

async function json<T>(response: Response, what: string): Promise<T> {
  const body = await response.text();
  if (response.status !== 200 && response.status !== 201) throw new Error(`${what}: ${response.status} ${body}`);
  return JSON.parse(body) as T;
}

/** WORKERS loops of `step` for SECONDS; each loop's step gets the worker's number. */
const phase = (server: BenchServer, step: (worker: number) => Promise<void>): Promise<PhaseResult> =>
  closedLoops(server, WORKERS, SECONDS, step);

async function main(): Promise<void> {
  const database = await startDatabase();
  const server = await startServer(
    database.url,
    {
      PUBLIC_URL: ORIGIN,
      TRUST_PROXY: 'loopback',
      REGISTER_MAX_PER_IP: '1000000',
      REGISTER_MAX_PER_NETWORK: '1000000',
      // Passkey options and logins from this one address are password checks of its budget.
      PASSWORD_CHECKS_MAX_PER_IP: '1000000',
      PASSWORD_CHECKS_WINDOW: '1',
      PASSWORD_CHECKS_MAX_PER_NETWORK: '1000000',
    },
    (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  );
  try {
    const authenticator = new SoftAuthenticator();
    const accounts: Account[][] = Array.from({ length: WORKERS }, () => []);
    for (let worker = 0; worker < WORKERS; worker += 1) {
      await Promise.all(
        Array.from({ length: ACCOUNTS_PER_WORKER }, async (_, n) => {
          const email = `passkey-${worker}-${n}@example.com`;
          await post(server.base, '/auth/register', { email, password: PASSWORD });
          const { accessToken } = await json<{ accessToken: string }>(
            await post(server.base, '/auth/login', { email, password: PASSWORD }),
            'login',
          );
          const options = await json<{ challenge: string; user: { id: string } }>(
            await post(server.base, '/auth/passkeys/register/options', {}, accessToken),
            'register options',
          );
          const response = authenticator.register(options, CEREMONY);
          await json(await post(server.base, '/auth/passkeys/register', { response }, accessToken), 'register');
          accounts[worker].push({ email, credential: authenticator.credentials.at(-1) as SoftCredential });
        }),
      );
    }
    const turn = Array.from({ length: WORKERS }, () => 0);
    const next = (worker: number) => accounts[worker][(turn[worker] += 1) % ACCOUNTS_PER_WORKER];
    const chains = await Promise.all(
      accounts.map(async ([account]) => {
        const { refreshToken } = await json<{ refreshToken: string }>(
          await post(server.base, '/auth/login', { email: account.email, password: PASSWORD }),
          'login',
        );
        return { refreshToken };
      }),
    );

    const passkeySignIn = async (worker: number) => {
      const { credential } = next(worker);
      const { challenge } = await json<{ challenge: string }>(
        await post(server.base, '/auth/passkeys/login/options', {}),
        'login options',
      );
      const response = authenticator.authenticate(challenge, CEREMONY, { credential });
      const answer = await json<{ accessToken?: string }>(
        await post(server.base, '/auth/passkeys/login', { response }),
        'passkey login',
      );
      if (!answer.accessToken) throw new Error('passkey login answered no token');
    };
    const passwordLogin = async (worker: number) => {
      const { email } = next(worker);
      await json(await post(server.base, '/auth/login', { email, password: PASSWORD }), 'login');
    };
    const refresh = async (worker: number) => {
      const chain = chains[worker];
      const answer = await json<{ refreshToken: string }>(
        await post(server.base, '/auth/refresh', { refreshToken: chain.refreshToken }),
        'refresh',
      );
      chain.refreshToken = answer.refreshToken;
    };

    // Warm-up: each path once for a second.
    const warm = { seconds: 1 };
    for (const step of [passkeySignIn, passwordLogin, refresh]) {
      const until = performance.now() + warm.seconds * 1000;
      await Promise.all(
        Array.from({ length: WORKERS }, async (_, worker) => {
          while (performance.now() < until) await step(worker);
        }),
      );
    }

    const rounds: Array<{ passkey: PhaseResult; password: PhaseResult; refresh: PhaseResult }> = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const passkey = await phase(server, passkeySignIn);
      const password = await phase(server, passwordLogin);
      const refreshed = await phase(server, refresh);
      rounds.push({ passkey, password, refresh: refreshed });
      console.log(
        `round ${round + 1}: passkey ${passkey.rate.toFixed(0)}/s, password ${password.rate.toFixed(0)}/s, refresh ${refreshed.rate.toFixed(0)}/s`,
      );
    }

    const median = (values: number[]) => percentile(values, 50);
    const all = (pick: (round: (typeof rounds)[number]) => PhaseResult) => rounds.flatMap((r) => pick(r).latencies);
    const line = (name: string, pick: (round: (typeof rounds)[number]) => PhaseResult) => {
      const latencies = all(pick);
      console.log(
        `${name.padEnd(34)} ${median(rounds.map((r) => pick(r).rate)).toFixed(0)} /s, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, server CPU ${median(rounds.map((r) => pick(r).serverCpuMs)).toFixed(2)} ms`,
      );
    };
    console.log(`\n${machine()}, PostgreSQL ${database.version}; ${WORKERS} at once, ${ROUNDS} rounds of ${SECONDS} s`);
    line('passkey sign-in (options + login)', (r) => r.passkey);
    line('password login', (r) => r.password);
    line('refresh', (r) => r.refresh);
    const ratio = (a: (r: (typeof rounds)[number]) => PhaseResult, b: (r: (typeof rounds)[number]) => PhaseResult) =>
      median(rounds.map((r) => a(r).rate / b(r).rate)).toFixed(2);
    console.log(
      `passkey sign-in vs password login: ${ratio(
        (r) => r.passkey,
        (r) => r.password,
      )}×`,
    );
    console.log(
      `passkey sign-in vs refresh:        ${ratio(
        (r) => r.passkey,
        (r) => r.refresh,
      )}×`,
    );
  } finally {
    await server.stop();
    await database.stop();
  }
}

await main();
