import {
  finish,
  load,
  machine,
  percentile,
  post,
  startDatabase,
  startServer,
  PASSWORD,
  verdict,
  type BenchDatabase,
} from './support.js';

/**
 * npm run bench:session-cap: a user at the session cap (MAX_SESSIONS_PER_USER, 100) against a
 * user with one session: the devices list (GET /auth/sessions, autocannon), "sign out every other
 * device" (DELETE /auth/sessions, once per user, 20 users) and a login (which, at the cap, ends
 * the least recently used session in its transaction). The extra sessions are written straight
 * into the table, as 99 earlier logins would have left them.
 */
const USERS = 20;

async function userWith(base: string, database: BenchDatabase, email: string, sessions: number) {
  await post(base, '/auth/register', { email, password: PASSWORD });
  const response = await post(base, '/auth/login', { email, password: PASSWORD });
  const tokens = (await response.json()) as { accessToken: string };
  if (sessions > 1) {
    await database.query(
      `INSERT INTO sessions (id, user_id, device_name, created_at, last_used_at, expires_at, refresh_token_hash, refresh_expires_at)
       SELECT gen_random_uuid(), u.id, 'device ' || n, now() - n * interval '1 minute', now() - n * interval '1 minute',
              now() + interval '30 days', md5(random()::text) || md5(random()::text), now() + interval '14 days'
         FROM users u, generate_series(1, $2) AS n WHERE u.email = $1`,
      [email, sessions - 1],
    );
  }
  return tokens.accessToken;
}

async function timed(work: () => Promise<Response>): Promise<number> {
  const started = performance.now();
  const response = await work();
  await response.arrayBuffer();
  if (response.status >= 300) throw new Error(`answered ${response.status}`);
  return performance.now() - started;
}

const database = await startDatabase();
const server = await startServer(database.url, { REGISTER_MAX_PER_IP: '1000', PASSWORD_CHECKS_MAX_PER_IP: '100000' });
const results = new Map<number, { list: number; listP99: number; revokeOthers: number; login: number }>();
try {
  for (const sessions of [1, 100]) {
    const listToken = await userWith(server.base, database, `list-${sessions}@example.com`, sessions);
    const list = await load(`${server.base}/auth/sessions`, { token: listToken, seconds: 4, connections: 10 });
    if (list.non2xx > 0) throw new Error(`devices list: ${list.non2xx} answers other than 2xx`);
    const revokeTimes: number[] = [];
    const loginTimes: number[] = [];
    for (let i = 0; i < USERS; i += 1) {
      const email = `cap-${sessions}-${i}@example.com`;
      const token = await userWith(server.base, database, email, sessions);
      // A login on top: at the cap, it ends the least recently used session.
      loginTimes.push(await timed(() => post(server.base, '/auth/login', { email, password: PASSWORD })));
      revokeTimes.push(
        await timed(() =>
          fetch(`${server.base}/auth/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } }),
        ),
      );
    }
    results.set(sessions, {
      list: list.rps,
      listP99: list.p99,
      revokeOthers: percentile(revokeTimes, 50),
      login: percentile(loginTimes, 50),
    });
  }
} finally {
  await server.stop();
  await database.stop();
}
const one = results.get(1)!;
const cap = results.get(100)!;
console.log(`\n${machine()}, PostgreSQL ${database.version}`);
console.log('| sessions of the user | GET /auth/sessions req/s (p99) | DELETE /auth/sessions p50 | login p50 |');
console.log('| --- | --- | --- | --- |');
for (const [sessions, r] of results) {
  console.log(
    `| ${sessions} | ${r.list.toFixed(0)} (${r.listP99} ms) | ${r.revokeOthers.toFixed(1)} ms | ${r.login.toFixed(1)} ms |`,
  );
}
// The answer at the cap lists 100 devices instead of one: fewer of them per second is expected;
// what must hold is that a user at the cap still gets the list quickly.
const listRatio = one.list / cap.list;
console.log(
  `devices list at the cap: ${listRatio.toFixed(2)}x fewer answers per second than with one session (100 devices listed instead of 1); p99 ${cap.listP99} ms (target < 50 ms): ${verdict(cap.listP99 < 50, 'devices list at the cap')}`,
);
const revokeRatio = cap.revokeOthers / one.revokeOthers;
console.log(
  `DELETE /auth/sessions at the cap: ${revokeRatio.toFixed(2)}x one session (target < 3x): ${verdict(revokeRatio < 3, 'revoke others at the cap')}`,
);
const loginRatio = cap.login / one.login;
console.log(
  `login at the cap: ${loginRatio.toFixed(2)}x (target < 1.5x): ${verdict(loginRatio < 1.5, 'login at the cap')}`,
);
finish();
