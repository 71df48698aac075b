import { ExtractJwt } from 'passport-jwt';
import { parseBearer } from '../src/auth/tokens/bearer.js';
import {
  cookieLogin,
  finish,
  get,
  load,
  machine,
  post,
  registerAndLogin,
  twoFactorLogin,
  startDatabase,
  siblingDatabase,
  startServer,
  VERIFIER_SERVER,
  verdict,
} from './support.js';

/** Mean µs per call of `work`, over enough calls to take about `budgetMs`. */
function microsPerCall(work: () => void, budgetMs = 300): number {
  let calls = 0;
  const started = performance.now();
  while (performance.now() - started < budgetMs) {
    work();
    calls += 1;
  }
  return ((performance.now() - started) * 1000) / calls;
}

/**
 * npm run bench: the example app on an embedded PostgreSQL, loaded route by route in one run:
 * /health (no guard), /profile (guard, revocation from memory), /profile/strict (guard, one
 * database round trip), and two comparison routes: stateless passport-jwt with a string secret,
 * and a naive TypeORM denylist + users check per request.
 */
async function main(): Promise<void> {
  const database = await startDatabase();
  // Both adapters at once, on one database, so that every figure comes from the same run.
  const server = await startServer(database.url, { HTTP_ADAPTER: 'express' });
  const fastify = await startServer(database.url, { HTTP_ADAPTER: 'fastify' });
  // EdDSA beside HS256: the same app on a database of its own (keys are per database), and the
  // verify-only service of test/verifier-app following it.
  const eddsaDatabase = await siblingDatabase(database);
  const eddsa = { JWT_ALGORITHM: 'EdDSA' };
  const eddsaExpress = await startServer(eddsaDatabase.url, { ...eddsa, HTTP_ADAPTER: 'express' });
  const eddsaFastify = await startServer(eddsaDatabase.url, { ...eddsa, HTTP_ADAPTER: 'fastify' });
  const verifier = await startServer(eddsaDatabase.url, { HTTP_ADAPTER: 'fastify' }, [], VERIFIER_SERVER);
  try {
    const token = (await registerAndLogin(server.base, 'bench@example.com')).accessToken;
    const fastifyToken = (await registerAndLogin(fastify.base, 'bench.fastify@example.com')).accessToken;
    // Browsers: the access token in the __Host- cookie instead of the Authorization header.
    const cookie = await cookieLogin(server.base, 'bench@example.com');
    const fastifyCookie = await cookieLogin(fastify.base, 'bench.fastify@example.com');
    // Signed in with two factors (amr pwd otp mfa): what @RequireSecondFactor() routes read.
    const twoFactorToken = (await twoFactorLogin(server.base, 'bench.mfa@example.com')).accessToken;
    const fastifyTwoFactorToken = (await twoFactorLogin(fastify.base, 'bench.mfa.fastify@example.com')).accessToken;
    const eddsaToken = (await registerAndLogin(eddsaExpress.base, 'bench.eddsa@example.com')).accessToken;
    const eddsaFastifyToken = (await registerAndLogin(eddsaFastify.base, 'bench.eddsa.fastify@example.com'))
      .accessToken;
    type Route = [
      name: string,
      key: string,
      base: string,
      path: string,
      token: string | undefined,
      headers?: Record<string, string>,
    ];
    const routes: Route[] = [
      ['Express: GET /health (no guard)', 'express /health', server.base, '/health', undefined],
      ['Express: GET /profile (revocation enforced, memory)', 'express /profile', server.base, '/profile', token],
      [
        'Express: GET /profile/strict (database round trip)',
        'express /profile/strict',
        server.base,
        '/profile/strict',
        token,
      ],
      [
        'Express: GET /profile (access cookie, memory)',
        'express /profile cookie',
        server.base,
        '/profile',
        undefined,
        { cookie },
      ],
      [
        'Express: GET /profile/secure (two-factor token, @RequireSecondFactor(), memory)',
        'express /profile/secure',
        server.base,
        '/profile/secure',
        twoFactorToken,
      ],
      ['Fastify: GET /health (no guard)', 'fastify /health', fastify.base, '/health', undefined],
      [
        'Fastify: GET /profile/secure (two-factor token, @RequireSecondFactor(), memory)',
        'fastify /profile/secure',
        fastify.base,
        '/profile/secure',
        fastifyTwoFactorToken,
      ],
      [
        'Fastify: GET /profile (revocation enforced, memory)',
        'fastify /profile',
        fastify.base,
        '/profile',
        fastifyToken,
      ],
      [
        'Fastify: GET /profile (access cookie, memory)',
        'fastify /profile cookie',
        fastify.base,
        '/profile',
        undefined,
        { cookie: fastifyCookie },
      ],
      [
        'Fastify: GET /profile/strict (database round trip)',
        'fastify /profile/strict',
        fastify.base,
        '/profile/strict',
        fastifyToken,
      ],
      ['Express, EdDSA: GET /health (no guard)', 'eddsa express /health', eddsaExpress.base, '/health', undefined],
      [
        'Express, EdDSA: GET /profile (revocation enforced, memory)',
        'eddsa express /profile',
        eddsaExpress.base,
        '/profile',
        eddsaToken,
      ],
      ['Fastify, EdDSA: GET /health (no guard)', 'eddsa fastify /health', eddsaFastify.base, '/health', undefined],
      [
        'Fastify, EdDSA: GET /profile (revocation enforced, memory)',
        'eddsa fastify /profile',
        eddsaFastify.base,
        '/profile',
        eddsaFastifyToken,
      ],
      [
        'verify-only service (Fastify): GET /health (no guard)',
        'verifier /health',
        verifier.base,
        '/health',
        undefined,
      ],
      [
        'verify-only service (Fastify): GET /orders (EdDSA token, revocation enforced, memory)',
        'verifier /orders',
        verifier.base,
        '/orders',
        eddsaToken,
      ],
      [
        'comparison (Express): stateless passport-jwt, string secret',
        'stateless',
        server.base,
        '/bench/stateless',
        token,
      ],
      ['comparison (Express): naive TypeORM denylist + users query', 'naive', server.base, '/bench/naive', token],
    ];
    for (const [, , base, path, bearer, headers] of routes) {
      const status = await get(base, path, bearer, headers);
      if (status !== 200) throw new Error(`${base}${path} answered ${status}`);
    }

    // Rounds interleave the routes, so that a slow moment of this shared machine does not fall on
    // one route only; each route's figure is its median over the rounds.
    const ROUNDS = 5;
    const samples: Record<string, Array<{ rps: number; p99: number }>> = {};
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [, key, base, path, bearer, headers] of routes) {
        const result = await load(`${base}${path}`, { token: bearer, headers, seconds: 4 });
        if (result.errors > 0 || result.non2xx > 0) {
          throw new Error(`${key}: ${result.errors} errors, ${result.non2xx} non-2xx`);
        }
        (samples[key] ??= []).push(result);
      }
    }
    const results: Record<string, { rps: number; p99: number }> = {};
    console.log(
      `\nMachine: ${machine()}; 20 connections; median of ${ROUNDS} interleaved rounds of 4 s (after 1 s warm-up); ratios: median of the per-round ratios\n`,
    );
    console.log('| route | req/s | p99 (ms) |');
    console.log('|---|---:|---:|');
    for (const [name, key] of routes) {
      const byRps = [...samples[key]].sort((x, y) => x.rps - y.rps);
      results[key] = byRps[Math.floor(byRps.length / 2)];
      console.log(`| ${name} | ${Math.round(results[key].rps)} | ${results[key].p99} |`);
    }

    // Each ratio is the median of the per-round ratios: the two routes of a round were loaded a few
    // seconds apart, so a slow stretch of this shared machine weighs on both sides alike.
    const ratio = (a: string, b: string) => {
      const perRound = samples[a].map((sample, round) => sample.rps / samples[b][round].rps).sort((x, y) => x - y);
      return perRound[Math.floor(perRound.length / 2)];
    };
    const rows: Array<[string, number, number]> = [
      ['Express: /profile vs /health', ratio('express /profile', 'express /health'), 0.85],
      ['Fastify: /profile vs /health', ratio('fastify /profile', 'fastify /health'), 0.8],
      ['Express: /profile with the access cookie vs /health', ratio('express /profile cookie', 'express /health'), 0.8],
      ['Fastify: /profile with the access cookie vs /health', ratio('fastify /profile cookie', 'fastify /health'), 0.8],
      ['Fastify /profile vs Express /profile', ratio('fastify /profile', 'express /profile'), 1.3],
      // The second factor's check reads the token alone: the same ratio as /profile.
      [
        'Express: /profile/secure (two-factor token) vs /health',
        ratio('express /profile/secure', 'express /health'),
        0.85,
      ],
      [
        'Fastify: /profile/secure (two-factor token) vs /health',
        ratio('fastify /profile/secure', 'fastify /health'),
        0.8,
      ],
      ['Express: /profile/secure vs /profile', ratio('express /profile/secure', 'express /profile'), 0],
      ['Fastify: /profile/secure vs /profile', ratio('fastify /profile/secure', 'fastify /profile'), 0],
      ['Express, EdDSA: /profile vs /health', ratio('eddsa express /profile', 'eddsa express /health'), 0.8],
      ['Fastify, EdDSA: /profile vs /health', ratio('eddsa fastify /profile', 'eddsa fastify /health'), 0.8],
      ['verify-only service (Fastify): /orders vs /health', ratio('verifier /orders', 'verifier /health'), 0.8],
      ['Express /profile: EdDSA vs HS256', ratio('eddsa express /profile', 'express /profile'), 0],
      ['Fastify /profile: EdDSA vs HS256', ratio('eddsa fastify /profile', 'fastify /profile'), 0],
      ['Express: /profile vs stateless passport-jwt (string secret)', ratio('express /profile', 'stateless'), 2.5],
      ['Express: /profile/strict vs /health', ratio('express /profile/strict', 'express /health'), 0.4],
      // A database round trip against Fastify's very light /health: reported, no target.
      ['Fastify: /profile/strict vs /health', ratio('fastify /profile/strict', 'fastify /health'), 0],
      ['naive TypeORM check vs Express /health', ratio('naive', 'express /health'), 0],
    ];
    console.log('\n| ratio | measured | target |');
    console.log('|---|---:|---|');
    for (const [name, value, target] of rows) {
      console.log(
        `| ${name} | ${value.toFixed(2)}× | ${target ? `≥ ${target}× (${verdict(value >= target, name)})` : '—'} |`,
      );
    }

    // Hostile headers: the largest Authorization header Node accepts by default (16 kB of headers)
    // without a space, parsed by this module and, for comparison, by passport-jwt's own extractor.
    const hostile = `Bearer${'A'.repeat(16_300)}`;
    // The longest header the parser reads through (at the token length cap), failing at the last character.
    const longest = `Bearer ${'A'.repeat(4_095)}!`;
    const ours = microsPerCall(() => parseBearer(hostile));
    const oursLongest = microsPerCall(() => parseBearer(longest));
    const passportJwt = microsPerCall(
      () => ExtractJwt.fromAuthHeaderAsBearerToken()({ headers: { authorization: hostile } } as never),
      1_000,
    );
    // One connection: each request's latency is its cost plus the loopback round trip, no queueing.
    const refusal = await load(`${server.base}/profile`, {
      headers: { authorization: hostile },
      seconds: 3,
      connections: 1,
    });
    console.log('\n| a 16 kB Authorization header without spaces | measured | target |');
    console.log('|---|---:|---|');
    console.log(
      `| this module's parser, per header (16 kB: refused at the length cap) | ${ours.toFixed(2)} µs | < 5 ms (${verdict(ours < 5_000, '16 kB header parse')}) |`,
    );
    console.log(
      `| this module's parser, worst case (a 4,096-character token read to its last character) | ${oursLongest.toFixed(1)} µs | < 5 ms (${verdict(oursLongest < 5_000, 'longest header parse')}) |`,
    );
    console.log(
      `| passport-jwt's extractor (not used), per 16 kB header | ${(passportJwt / 1000).toFixed(1)} ms | — |`,
    );
    console.log(
      `| refused end to end (401), one connection | p99 ${refusal.p99} ms (${Math.round(refusal.rps)} req/s) | p99 < 5 ms (${verdict(refusal.p99 < 5, '16 kB header p99')}) |`,
    );

    // The guard really enforces: after logout the same token is refused on both guarded routes.
    await post(server.base, '/auth/logout', {}, token);
    const after = [await get(server.base, '/profile', token), await get(server.base, '/profile/strict', token)];
    console.log(`\nAfter logout, /profile and /profile/strict answer ${after.join(' and ')} to the same token.`);
    if (after.some((code) => code !== 401)) verdict(false, 'revoked token refused after logout');
  } finally {
    await server.stop();
    await fastify.stop();
    await eddsaExpress.stop();
    await eddsaFastify.stop();
    await verifier.stop();
    await eddsaDatabase.drop();
    await database.stop();
  }
  finish();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
