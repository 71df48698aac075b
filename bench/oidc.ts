import { CookieJar, signInAtProvider, startTestProvider } from '../test/support/oidc-provider.js';
import { machine, PASSWORD, percentile, post, startDatabase, startServer } from './support.js';

/**
 * npm run bench:oidc: what a sign-in with an OpenID Connect provider costs this server, against
 * oidc-provider 9 in this process (a provider on the same machine: its own time is not the
 * app's). SIGN_INS sequential sign-ins of new and known accounts, bearer transport, each timed
 * at the app's three steps: the start (a transaction row, the redirect), the callback (the
 * transaction taken, the code exchanged at the provider, the ID token's signature checked with
 * its keys, the linking rules, a one-time code), the exchange (the session). A password login and
 * a refresh are timed in the same run for scale. No target: the figures go to docs/benchmarks.md.
 */
const SIGN_INS = Number(process.env.BENCH_SIGN_INS ?? 200);
const PUBLIC_URL = 'http://localhost:3000';
const CALLBACK = `${PUBLIC_URL}/auth/oidc/bench/callback`;

async function timed<T>(work: () => Promise<T>, into: number[]): Promise<T> {
  const started = performance.now();
  const result = await work();
  into.push(performance.now() - started);
  return result;
}

function summary(name: string, values: number[]): string {
  return `${name.padEnd(38)} p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const provider = await startTestProvider({ redirectUris: [CALLBACK] });
  const database = await startDatabase();
  const server = await startServer(database.url, {
    PUBLIC_URL,
    TRUST_PROXY: 'loopback',
    REGISTER_MAX_PER_IP: '1000000',
    REGISTER_MAX_PER_NETWORK: '1000000',
    PASSWORD_CHECKS_MAX_PER_IP: '1000000',
    PASSWORD_CHECKS_MAX_PER_NETWORK: '1000000',
    OIDC_PROVIDERS: JSON.stringify([
      {
        id: 'bench',
        name: 'Bench ID',
        issuer: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
        trustEmailVerified: true,
      },
    ]),
  });
  try {
    for (let tries = 0; ; tries += 1) {
      const listed = (await (await fetch(`${server.base}/auth/oidc/providers`)).json()) as unknown[];
      if (listed.length === 1) break;
      if (tries > 100) throw new Error('the provider was not discovered');
      await new Promise((done) => setTimeout(done, 100));
    }
    const start: number[] = [];
    const callback: number[] = [];
    const exchange: number[] = [];
    const login: number[] = [];
    const refresh: number[] = [];
    await post(server.base, '/auth/register', { email: 'password@example.com', password: PASSWORD });
    for (let n = 0; n < SIGN_INS; n += 1) {
      // Half the sign-ins are first ones (an account made, linked), half of a known subject.
      const login_ = `person-${n % (SIGN_INS / 2)}`;
      provider.accounts.set(login_, { sub: `sub-${login_}`, email: `${login_}@example.com`, email_verified: true });
      const started = await timed(
        () => fetch(`${server.base}/auth/oidc/bench/start?transport=bearer&returnTo=/done`, { redirect: 'manual' }),
        start,
      );
      const binding = (started.headers.getSetCookie()[0] ?? '').split(';')[0];
      const back = await signInAtProvider(started.headers.get('location') as string, login_, CALLBACK, new CookieJar());
      const answered = await timed(
        () =>
          fetch(`${server.base}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: binding } }),
        callback,
      );
      const code = new URL(answered.headers.get('location') as string, PUBLIC_URL).searchParams.get('code');
      if (!code) throw new Error(`no code: ${answered.headers.get('location')}`);
      const signedIn = await timed(
        () =>
          fetch(`${server.base}/auth/oidc/exchange`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', cookie: binding },
            body: JSON.stringify({ code }),
          }),
        exchange,
      );
      const { refreshToken } = (await signedIn.json()) as { refreshToken: string };
      await timed(() => post(server.base, '/auth/refresh', { refreshToken }), refresh);
      await timed(() => post(server.base, '/auth/login', { email: 'password@example.com', password: PASSWORD }), login);
    }
    console.log(`${machine()}, PostgreSQL ${database.version}; ${SIGN_INS} sign-ins, one at a time`);
    console.log(summary('start (302 to the provider)', start));
    console.log(summary('callback (code exchange, ID token, link)', callback));
    console.log(summary('exchange (one-time code → session)', exchange));
    const total = start.map((value, i) => value + callback[i] + exchange[i]);
    console.log(summary('the app’s part of a sign-in, in all', total));
    console.log(summary('password login (argon2id)', login));
    console.log(summary('refresh', refresh));
  } finally {
    await server.stop();
    await database.stop();
    await provider.close();
  }
}

await main();
