import {
  finish,
  get,
  machine,
  percentile,
  post,
  startDatabase,
  startServer,
  PASSWORD,
  verdict,
  VERIFIER_SERVER,
  type BenchServer,
} from './support.js';

/**
 * npm run bench:propagation: two instances on one PostgreSQL. A logout on A, then how long until B
 * refuses the same token; then the same after B's listening connection is killed
 * (pg_terminate_backend) or frozen (SIGSTOP on its backend: a connection that dies silently).
 * Then the verify-only service (test/verifier-app, on Fastify): each kind of revocation made on A,
 * and how long until the service refuses the token.
 */
const REVOCATIONS = 200;
const FAULT_TRIALS = 5;
const VERIFIER_TRIALS = 50;

interface SyncInfo {
  sync: string;
  listenerPid: number | null;
  loadCount: number;
  databaseChecks: number;
}

async function syncInfo(server: BenchServer): Promise<SyncInfo> {
  return (await (await fetch(`${server.base}/bench/memory`)).json()) as SyncInfo;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Milliseconds from A's 204 to the first 401 on B (B polled back to back). */
async function revokeAndWatch(a: BenchServer, b: BenchServer, token: string, timeoutMs = 5_000): Promise<number> {
  if ((await get(b.base, '/profile', token)) !== 200) throw new Error('token not accepted on B before revocation');
  const response = await post(a.base, '/auth/logout', {}, token);
  if (response.status !== 204) throw new Error(`logout answered ${response.status}`);
  const revokedAt = performance.now();
  for (;;) {
    if ((await get(b.base, '/profile', token)) === 401) return performance.now() - revokedAt;
    if (performance.now() - revokedAt > timeoutMs) throw new Error('B never refused the token');
  }
}

async function login(base: string, email: string): Promise<{ accessToken: string; sessionId: string }> {
  const response = await post(base, '/auth/login', { email, password: PASSWORD });
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  return (await response.json()) as { accessToken: string; sessionId: string };
}

async function send(base: string, method: string, path: string, token: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
}

/** Milliseconds from the auth server's 204 to the verify-only service's first 401 (polled back to back). */
async function revokeAndWatchOnVerifier(
  verifier: BenchServer,
  token: string,
  revoke: () => Promise<Response>,
): Promise<number> {
  if ((await get(verifier.base, '/orders', token)) !== 200) throw new Error('token not accepted before revocation');
  const response = await revoke();
  if (response.status !== 204) throw new Error(`revocation answered ${response.status}`);
  const revokedAt = performance.now();
  for (;;) {
    if ((await get(verifier.base, '/orders', token)) === 401) return performance.now() - revokedAt;
    if (performance.now() - revokedAt > 5_000) throw new Error('the verify-only service never refused the token');
  }
}

async function verifierPropagation(a: BenchServer, verifier: BenchServer): Promise<void> {
  let users = 0;
  const newUser = async () => {
    users += 1;
    const email = `verifier.${users}@example.com`;
    await post(a.base, '/auth/register', { email, password: PASSWORD });
    return email;
  };
  const kinds: Array<[string, () => Promise<number>]> = [
    [
      'logout',
      async () => {
        const { accessToken } = await login(a.base, await newUser());
        return revokeAndWatchOnVerifier(verifier, accessToken, () => send(a.base, 'POST', '/auth/logout', accessToken));
      },
    ],
    [
      'device sign-out (DELETE /auth/sessions/:id)',
      async () => {
        const email = await newUser();
        const phone = await login(a.base, email);
        const laptop = await login(a.base, email);
        return revokeAndWatchOnVerifier(verifier, phone.accessToken, () =>
          send(a.base, 'DELETE', `/auth/sessions/${phone.sessionId}`, laptop.accessToken),
        );
      },
    ],
    [
      'logout-all',
      async () => {
        const { accessToken } = await login(a.base, await newUser());
        return revokeAndWatchOnVerifier(verifier, accessToken, () =>
          send(a.base, 'POST', '/auth/logout-all', accessToken),
        );
      },
    ],
    [
      'account deletion',
      async () => {
        const { accessToken } = await login(a.base, await newUser());
        return revokeAndWatchOnVerifier(verifier, accessToken, () =>
          send(a.base, 'DELETE', '/auth/account', accessToken, { password: PASSWORD }),
        );
      },
    ],
  ];
  const before = await syncInfo(verifier);
  console.log(
    `\nRevocations on the auth server (A, Express, EdDSA) refused by the verify-only service (Fastify), ${VERIFIER_TRIALS} of each kind (ms from A's 204 to the service's first 401):\n`,
  );
  console.log('| revocation | p50 | p99 | max | target |');
  console.log('|---|---:|---:|---:|---|');
  const all: number[] = [];
  for (const [name, trial] of kinds) {
    const latencies: number[] = [];
    for (let i = 0; i < VERIFIER_TRIALS; i += 1) latencies.push(await trial());
    all.push(...latencies);
    const p99 = percentile(latencies, 99);
    console.log(
      `| ${name} | ${percentile(latencies, 50).toFixed(1)} | ${p99.toFixed(1)} | ${Math.max(...latencies).toFixed(1)} | p99 ≤ 50 ms (${verdict(p99 <= 50, `verify-only ${name} p99`)}) |`,
    );
  }
  const p99 = percentile(all, 99);
  console.log(
    `| all ${all.length} | ${percentile(all, 50).toFixed(1)} | ${p99.toFixed(1)} | ${Math.max(...all).toFixed(1)} | p99 ≤ 50 ms (${verdict(p99 <= 50, 'verify-only p99')}) |`,
  );
  const after = await syncInfo(verifier);
  const fromMemory =
    after.databaseChecks === before.databaseChecks && after.listenerPid === before.listenerPid && after.sync === 'live';
  console.log(
    `\nThe verify-only service answered from memory throughout: ${after.databaseChecks - before.databaseChecks} database checks, listener pid ${before.listenerPid} → ${after.listenerPid} (${verdict(fromMemory, 'verify-only answered from memory')})`,
  );
}

async function main(): Promise<void> {
  const database = await startDatabase();
  // EdDSA: the verify-only service checks the tokens with the public key.
  const env = { JWT_ALGORITHM: 'EdDSA', REGISTER_MAX_PER_IP: '1000000' };
  const a = await startServer(database.url, env);
  const b = await startServer(database.url, env);
  const verifier = await startServer(database.url, { HTTP_ADAPTER: 'fastify' }, [], VERIFIER_SERVER);
  try {
    const email = 'propagation@example.com';
    await post(a.base, '/auth/register', { email, password: PASSWORD });
    const tokens: string[] = [];
    for (let i = 0; i < REVOCATIONS + 4 * FAULT_TRIALS; i += 1) {
      const response = await post(a.base, '/auth/login', { email, password: PASSWORD });
      tokens.push(((await response.json()) as { accessToken: string }).accessToken);
    }

    const before = await syncInfo(b);
    const latencies: number[] = [];
    for (let i = 0; i < REVOCATIONS; i += 1) latencies.push(await revokeAndWatch(a, b, tokens.pop() as string));
    const after = await syncInfo(b);
    console.log(`\nMachine: ${machine()}\n`);
    console.log(
      `Propagation of ${REVOCATIONS} logouts from instance A to instance B (ms from A's 204 to B's first 401):\n`,
    );
    console.log('| p50 | p90 | p99 | max | target |');
    console.log('|---:|---:|---:|---:|---|');
    const p99 = percentile(latencies, 99);
    console.log(
      `| ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 90).toFixed(1)} | ${p99.toFixed(1)} | ${Math.max(...latencies).toFixed(1)} | p99 ≤ 50 ms (${verdict(p99 <= 50, 'propagation p99')}) |`,
    );
    // B answered every one of those requests from memory: no database check, the same listening
    // connection throughout, no reload (a degraded instance would also refuse, from the database).
    const fromMemory =
      after.databaseChecks === before.databaseChecks &&
      after.listenerPid === before.listenerPid &&
      after.loadCount === before.loadCount &&
      after.sync === 'live';
    console.log(
      `\nB answered from memory throughout: ${after.databaseChecks - before.databaseChecks} database checks, listener pid ${before.listenerPid} → ${after.listenerPid}, loads ${before.loadCount} → ${after.loadCount} (${verdict(fromMemory, 'B answered from memory')})`,
    );

    const faults: Array<[string, (pid: number) => Promise<() => Promise<void>>]> = [
      [
        'listener killed (pg_terminate_backend)',
        async (pid) => {
          await database.query('SELECT pg_terminate_backend($1)', [pid]);
          return async () => {};
        },
      ],
      [
        'listener frozen (SIGSTOP: dies silently)',
        async (pid) => {
          process.kill(pid, 'SIGSTOP');
          return async () => {
            process.kill(pid, 'SIGCONT');
          };
        },
      ],
    ];
    console.log(`\nA revocation made right after B's listening connection fails (${FAULT_TRIALS} trials each):\n`);
    console.log('| fault | honoured on B after (ms), each trial | worst | target |');
    console.log('|---|---|---:|---|');
    for (const [name, inflict] of faults) {
      const trials: number[] = [];
      for (let i = 0; i < FAULT_TRIALS; i += 1) {
        await waitFor(async () => (await syncInfo(b)).sync === 'live', 10_000);
        const { listenerPid } = await syncInfo(b);
        const heal = await inflict(listenerPid as number);
        try {
          trials.push(await revokeAndWatch(a, b, tokens.pop() as string));
        } finally {
          await heal();
        }
      }
      const worst = Math.max(...trials);
      console.log(
        `| ${name} | ${trials.map((t) => t.toFixed(0)).join(', ')} | ${worst.toFixed(0)} | ≤ 2000 ms (${verdict(worst <= 2000, name)}) |`,
      );
    }
    await verifierPropagation(a, verifier);
  } finally {
    await a.stop();
    await b.stop();
    await verifier.stop();
    await database.stop();
  }
  finish();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
