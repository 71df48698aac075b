import { randomBytes, randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import {
  finish,
  machine,
  percentile,
  post,
  registerAndLogin,
  startDatabase,
  startServer,
  PASSWORD,
  verdict,
  type BenchServer,
} from './support.js';

/**
 * npm run bench:flood: two instances (A, B) on one PostgreSQL, and a raw pg client that floods
 * the notification channel as any role that can connect could: forged revocation hints (some
 * with a guessed tag), forged key notices (each one a distinct spelling of `{"k":"K"}`, so that
 * PostgreSQL does not fold them) and unreadable payloads. While it runs: /profile is loaded on
 * both instances (throughput and latency against the same load before the flood), a user logs
 * out on A and B is polled until it refuses the token, and logins go on on both.
 */
const FORGED_HINTS = 500_000;
const KEY_NOTICES = 50_000;
const UNREADABLE = 20_000;
const TOTAL = FORGED_HINTS + KEY_NOTICES + UNREADABLE;
const BATCH = 5_000;
const SENDERS = 4;
const CONNECTIONS = 10;
const BASELINE_SECONDS = 5;
/** The flood must be dropped by both instances within this, or the run says so and goes on. */
const ABSORB_LIMIT_MS = 120_000;

interface Probe {
  sync: string;
  loadCount: number;
  databaseChecks: number;
  droppedNotifications: number;
  confirmations: number;
  catchUps: number;
  keyLoads: number;
}

const probe = async (server: BenchServer) => (await (await fetch(`${server.base}/bench/memory`)).json()) as Probe;

/** `{"k":"K"}` spelled with 8 whitespace characters chosen by n: 65,536 distinct, all valid JSON. */
function keyNotice(n: number): string {
  const alphabet = [' ', '\t', '\n', '\r'];
  let spaces = '';
  for (let digit = 0; digit < 8; digit += 1) spaces += alphabet[(n >> (digit * 2)) & 3];
  return `{"k":"K"${spaces}}`;
}

function forgedHint(n: number, userIds: string[]): string {
  const guessedTag = () => `,"m":"${randomBytes(16).toString('base64url')}"}`;
  switch (n % 5) {
    case 0:
      return JSON.stringify({ k: 't', j: randomUUID() });
    case 1:
      return JSON.stringify({ k: 's', i: [randomUUID(), randomUUID()] });
    case 2:
      // A real user, and a tag: the receiver computes its HMACs before it drops it.
      return `${JSON.stringify({ k: 'u', u: userIds[n % userIds.length] }).slice(0, -1)},"x":${n}${guessedTag()}`;
    case 3:
      return `${JSON.stringify({ k: 't', j: randomUUID() }).slice(0, -1)}${guessedTag()}`;
    default:
      return JSON.stringify({ k: 'd', u: randomUUID() });
  }
}

/** Every payload of the flood, kinds interleaved, in batches of BATCH (one transaction each). */
function floodBatches(userIds: string[]): string[][] {
  const payloads: string[] = [];
  let hints = 0;
  let keys = 0;
  let junk = 0;
  for (let index = 0; index < TOTAL; index += 1) {
    const slot = index % 57; // 50 hints, 5 key notices, 2 unreadable in every 57
    if (slot < 50 && hints < FORGED_HINTS) payloads.push(forgedHint(hints++, userIds));
    else if (slot < 55 && keys < KEY_NOTICES) payloads.push(keyNotice(keys++));
    else if (junk < UNREADABLE) payloads.push(`{"k":"t","j":${junk++}, ${randomBytes(12).toString('hex')}`);
    else if (hints < FORGED_HINTS) payloads.push(forgedHint(hints++, userIds));
    else payloads.push(keyNotice(keys++));
  }
  const batches: string[][] = [];
  for (let start = 0; start < payloads.length; start += BATCH) batches.push(payloads.slice(start, start + BATCH));
  return batches;
}

async function sendFlood(url: string, batches: string[][]): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      const client = new pg.Client({ connectionString: url });
      client.on('error', () => {});
      await client.connect();
      try {
        while (next < batches.length) {
          const batch = batches[next++];
          await client.query("SELECT pg_notify('auth_revocations', payload) FROM unnest($1::text[]) AS payload", [
            batch,
          ]);
        }
      } finally {
        await client.end();
      }
    }),
  );
  return performance.now() - started;
}

interface Slice {
  requests: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
  seconds: number;
}

async function slice(base: string, token: string, seconds: number): Promise<Slice> {
  const result = await autocannon({
    url: `${base}/profile`,
    headers: { authorization: `Bearer ${token}` },
    connections: CONNECTIONS,
    duration: seconds,
  });
  return {
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    p50: result.latency.p50,
    p99: result.latency.p99,
    seconds: result.duration,
  };
}

/** Slices of load until `done()`; throughput over all of them, and the worst slice's p99. */
async function loadUntil(base: string, token: string, done: () => boolean): Promise<Slice[]> {
  const slices: Slice[] = [];
  do slices.push(await slice(base, token, 1));
  while (!done());
  return slices;
}

const rps = (slices: Slice[]) =>
  slices.reduce((sum, s) => sum + s.requests, 0) / slices.reduce((sum, s) => sum + s.seconds, 0);
const worst = (slices: Slice[], key: 'p50' | 'p99') => Math.max(...slices.map((s) => s[key]));
const failures = (slices: Slice[]) => slices.reduce((sum, s) => sum + s.non2xx + s.errors, 0);

/** Logins one after the other until `done()` (at least `least`): latencies, and how many failed. */
async function loginsUntil(base: string, email: string, done: () => boolean, least = 5) {
  const latencies: number[] = [];
  let failed = 0;
  while (latencies.length + failed < least || !done()) {
    const started = performance.now();
    const response = await post(base, '/auth/login', { email, password: PASSWORD });
    await response.arrayBuffer();
    if (response.status === 200) latencies.push(performance.now() - started);
    else failed += 1;
  }
  return { latencies, failed };
}

async function main(): Promise<void> {
  const database = await startDatabase();
  // Logins are measured back to back from one address: the per-client password budget out of the way.
  const env = { PASSWORD_CHECKS_MAX_PER_IP: '1000000' };
  const a = await startServer(database.url, env);
  const b = await startServer(database.url, env);
  const step = (what: string) => console.error(`[flood] ${what}`);
  try {
    const onA = await registerAndLogin(a.base, 'flood.load.a@example.com');
    const onB = await registerAndLogin(a.base, 'flood.load.b@example.com');
    const userIds = (await database.query<{ id: string }>('SELECT id::text AS id FROM users')).map((row) => row.id);
    const batches = floodBatches(userIds);

    // Before: the same load, and logins, with a quiet channel.
    const baseline = async (server: BenchServer, token: string) => {
      await slice(server.base, token, 1); // warm-up
      return [await slice(server.base, token, BASELINE_SECONDS)];
    };
    const [baseA, baseB] = await Promise.all([baseline(a, onA.accessToken), baseline(b, onB.accessToken)]);
    let quiet = false;
    setTimeout(() => (quiet = true), 3_000);
    const [baseLoginsA, baseLoginsB] = await Promise.all([
      loginsUntil(a.base, 'flood.load.a@example.com', () => quiet),
      loginsUntil(b.base, 'flood.load.b@example.com', () => quiet),
    ]);
    const before = { a: await probe(a), b: await probe(b) };
    step('baseline measured; flooding');

    // The flood, and everything else at once.
    let absorbed = false;
    const victim = await registerAndLogin(a.base, 'flood.victim@example.com');
    const floodStarted = performance.now();
    const sending = sendFlood(database.url, batches);
    let sent = false;
    void sending.then(() => (sent = true));
    const watching = (async () => {
      let last = -1;
      let still = 0;
      for (;;) {
        const [pa, pb] = await Promise.all([probe(a), probe(b)]);
        const dropped = pa.droppedNotifications + pb.droppedNotifications;
        const elapsed = performance.now() - floodStarted;
        const all =
          pa.droppedNotifications - before.a.droppedNotifications >= TOTAL &&
          pb.droppedNotifications - before.b.droppedNotifications >= TOTAL;
        // Nothing more arriving after the last batch was sent (an instance that reconnected lost
        // the rest of the flood with its connection): stop, and the figures below say so.
        still = sent && dropped === last ? still + 1 : 0;
        last = dropped;
        if (all || still >= 40 || elapsed > ABSORB_LIMIT_MS) {
          absorbed = true;
          return elapsed;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const logout = (async () => {
      // Once a third of the flood is in PostgreSQL's queue: the logout's notification is behind it.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const response = await post(a.base, '/auth/logout', {}, victim.accessToken);
      if (response.status !== 204) throw new Error(`logout answered ${response.status}`);
      const revokedAt = performance.now();
      for (;;) {
        const status = (
          await fetch(`${b.base}/profile`, { headers: { authorization: `Bearer ${victim.accessToken}` } })
        ).status;
        if (status === 401) return performance.now() - revokedAt;
        if (performance.now() - revokedAt > 30_000) return Number.POSITIVE_INFINITY;
      }
    })();
    const [floodA, floodB, loginsA, loginsB, sendMs, absorbMs, logoutMs] = await Promise.all([
      loadUntil(a.base, onA.accessToken, () => absorbed),
      loadUntil(b.base, onB.accessToken, () => absorbed),
      loginsUntil(a.base, 'flood.load.a@example.com', () => absorbed),
      loginsUntil(b.base, 'flood.load.b@example.com', () => absorbed),
      sending,
      watching,
      logout,
    ]);
    const after = { a: await probe(a), b: await probe(b) };
    step('flood over');

    console.log(`\n${machine()}, PostgreSQL ${database.version}\n`);
    console.log(
      `Flood of ${TOTAL.toLocaleString('en')} notifications from a raw pg client (${FORGED_HINTS.toLocaleString('en')} forged hints, a fifth with a guessed tag; ` +
        `${KEY_NOTICES.toLocaleString('en')} forged key notices; ${UNREADABLE.toLocaleString('en')} unreadable), ${SENDERS} connections, ${BATCH} per transaction: ` +
        `sent in ${(sendMs / 1000).toFixed(1)} s, dropped by both instances ${(absorbMs / 1000).toFixed(1)} s after the first was sent.\n`,
    );
    console.log(
      '| instance | /profile req/s before | during | ratio | p99 before (ms) | worst 1-s p99 during | non-2xx during |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    const ratios: number[] = [];
    for (const [name, base, during] of [
      ['A', baseA, floodA],
      ['B', baseB, floodB],
    ] as const) {
      const ratio = rps(during) / rps(base);
      ratios.push(ratio);
      console.log(
        `| ${name} | ${Math.round(rps(base))} | ${Math.round(rps(during))} | ${ratio.toFixed(2)} | ${worst(base, 'p99')} | ${worst(during, 'p99')} | ${failures(during)} |`,
      );
    }
    console.log('\n| instance | logins before: n, p50 (ms) | during: n, p50, p99 (ms) | failed during |');
    console.log('|---|---:|---:|---:|');
    for (const [name, base, during] of [
      ['A', baseLoginsA, loginsA],
      ['B', baseLoginsB, loginsB],
    ] as const) {
      console.log(
        `| ${name} | ${base.latencies.length}, ${percentile(base.latencies, 50).toFixed(0)} | ${during.latencies.length}, ${percentile(during.latencies, 50).toFixed(0)}, ${percentile(during.latencies, 99).toFixed(0)} | ${during.failed} |`,
      );
    }
    const changes = (name: 'a' | 'b') => ({
      dropped: after[name].droppedNotifications - before[name].droppedNotifications,
      reloads: after[name].loadCount - before[name].loadCount,
      keyLoads: after[name].keyLoads - before[name].keyLoads,
      // The logout's two hints (its session, its token) and the victim's login are all that is real.
      confirmations: after[name].confirmations - before[name].confirmations,
      catchUps: after[name].catchUps - before[name].catchUps,
      databaseChecks: after[name].databaseChecks - before[name].databaseChecks,
      state: after[name].sync,
    });
    console.log(`\nDuring the flood, A: ${JSON.stringify(changes('a'))}`);
    console.log(`During the flood, B: ${JSON.stringify(changes('b'))}`);
    console.log(
      `\nA logout on A sent ${300} ms into the flood was refused on B ${logoutMs.toFixed(0)} ms after A's 204 (target ≤ 2,000 ms: ${verdict(logoutMs <= 2_000, 'logout during flood within 2 s')}).`,
    );
    console.log(
      `Every payload of the flood dropped unread by both instances: ${verdict(
        changes('a').dropped === TOTAL && changes('b').dropped === TOTAL,
        'flood dropped by both',
      )}.`,
    );
    const memoryAnswered = changes('a').databaseChecks === 0 && changes('b').databaseChecks === 0;
    console.log(
      `Live tokens answered from memory throughout (no database check, no reload, no key reload on either): ${verdict(
        memoryAnswered &&
          changes('a').reloads + changes('b').reloads === 0 &&
          changes('a').keyLoads + changes('b').keyLoads === 0 &&
          failures([...floodA, ...floodB]) === 0,
        'answered from memory during the flood',
      )}; logins kept working: ${verdict(loginsA.failed + loginsB.failed === 0 && loginsA.latencies.length > 0 && loginsB.latencies.length > 0, 'logins during the flood')}.`,
    );
  } finally {
    await a.stop();
    await b.stop();
    await database.stop();
  }
  finish();
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
