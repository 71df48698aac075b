import { isIP, isIPv4 } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Response } from 'supertest';
import { codePointLength } from '../src/auth/common/client-address.js';
import { hasLoneSurrogate } from '../src/auth/common/validators.js';
import {
  bearer,
  createTestApp,
  type LoggedIn,
  PASSWORD,
  registerAndLogin,
  type TestAppWithDatabase,
} from './support/test-app.js';
import { accessClaims, decode, sign, unsignedToken } from './support/tokens.js';

/**
 * Property-based: whatever the body, header or token, the answer is one of the codes the README
 * documents for the route, never a 500, and every 4xx body is Nest's {statusCode, message, error}.
 *
 * Every property runs from one fixed seed, printed at the start and in the suite's name, so that
 * every run draws the same inputs and a failure replays as it was seen. FC_SEED=<n> runs from
 * another seed (a soak with fresh inputs; a failure prints the seed to replay it with).
 * FC_RUNS_FACTOR scales every property's number of runs (e.g. 10 for a long soak).
 */
const DEFAULT_SEED = 20_260_117;
const SEED = propertySeed(process.env.FC_SEED);
const RUNS_FACTOR = Number(process.env.FC_RUNS_FACTOR ?? 1);
function params(numRuns: number): { numRuns: number; seed: number } {
  const runs = Math.max(1, Math.round(numRuns * RUNS_FACTOR));
  return { numRuns: runs, seed: SEED };
}
function propertySeed(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_SEED;
  const seed = Number(value);
  // fast-check takes a 32-bit integer.
  if (!Number.isSafeInteger(seed) || seed < -(2 ** 31) || seed >= 2 ** 32) {
    throw new Error(`FC_SEED must be a 32-bit integer, not ${JSON.stringify(value)}`);
  }
  return seed;
}

/** express.json's limit in the example app (src/example/app.setup.ts, '100kb'), in bytes. */
const BODY_LIMIT_BYTES = 100 * 1024;

/** The answer is one of `documented`, and a 4xx body has exactly Nest's three fields. */
function expectDocumented(response: Response, documented: readonly number[], request: string): void {
  if (!documented.includes(response.status)) {
    throw new Error(
      `${request} answered ${response.status} ${JSON.stringify(response.body)}; documented: ${documented.join(', ')}`,
    );
  }
  if (response.status >= 400) {
    const body = response.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['error', 'message', 'statusCode']);
    expect(body.statusCode).toBe(response.status);
    expect(typeof body.error).toBe('string');
    const message = body.message;
    expect(typeof message === 'string' || (Array.isArray(message) && message.every((m) => typeof m === 'string'))).toBe(
      true,
    );
  }
}

// ---- Arbitraries -------------------------------------------------------------------------------

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const base64urlChar = fc.constantFrom(...BASE64URL);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'undefined').toString('base64url');

/** Characters that have broken string handling somewhere: NUL, lone surrogates, variation selectors, combining marks, bidi, BOM. */
const oddChar = fc.constantFrom(
  '\u0000',
  '\uD800',
  '\uDFFF',
  '\uFE0F',
  '\uFE0E',
  '\u0301',
  '\u200D',
  '\u202E',
  '\uFEFF',
  '\u2028',
  '😀',
  '❤',
  'é',
  '\\',
  '"',
  '%',
  '$',
  '.',
  ' ',
);

const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: fc.oneof(oddChar, fc.string({ minLength: 1, maxLength: 1 })), maxLength: 120 }),
  // Around the column limits (100 for device names, 254 for emails, 256 for passwords).
  fc
    .tuple(fc.integer({ min: 95, max: 300 }), fc.string({ unit: oddChar, maxLength: 4 }))
    .map(([length, tail]) => `${'a'.repeat(length)}${tail}`),
  fc.string({ unit: 'binary', minLength: 95, maxLength: 110 }),
);

const emailLike = fc.oneof(
  fc.emailAddress(),
  fc.tuple(hostileString, fc.domain()).map(([local, domain]) => `${local}@${domain}`),
  fc.tuple(fc.emailAddress(), fc.string({ unit: oddChar, minLength: 1, maxLength: 3 })).map(([e, odd]) => e + odd),
);

const key = fc.oneof(
  fc.constantFrom('email', 'password', 'deviceName', 'refreshToken', 'currentPassword', 'newPassword'),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '$ne', '$gt', ''),
  hostileString,
);

const leaf = fc.oneof(
  hostileString,
  emailLike,
  fc.double(),
  fc.integer(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, 1e308, Number.MIN_VALUE),
  fc.boolean(),
  fc.constant(null),
);

/** Any JSON value of the hostile leaves, nested objects and arrays (depth kept modest here). */
const { value: jsonTree } = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
}));

/** JSON text nested `depth` levels, objects and arrays in a repeating pattern: up to 20,000 levels (over 100 kB). */
const deepText = fc
  .record({
    depth: fc.integer({ min: 1, max: 20_000 }),
    pattern: fc.array(fc.constantFrom('object', 'array'), { minLength: 1, maxLength: 4 }),
    leaf: fc.constantFrom('1', '"x"', 'null', '{}', '[]', '"\\u0000"'),
  })
  .map(({ depth, pattern, leaf: inner }) => {
    const open: string[] = [];
    const close: string[] = [];
    for (let level = 0; level < depth; level += 1) {
      const isObject = pattern[level % pattern.length] === 'object';
      open.push(isObject ? '{"email":' : '[');
      close.push(isObject ? '}' : ']');
    }
    return `${open.join('')}${inner}${close.reverse().join('')}`;
  });

/** Numbers JSON.parse turns into Infinity, 0, or an imprecise float. */
const hugeNumberText = fc.constantFrom(
  '1e400',
  '-1e400',
  '1e-400',
  '-0',
  '123456789012345678901234567890',
  '9007199254740993',
  '1E+308',
  `1${'0'.repeat(5000)}`,
);

/** A body of the route's own fields (some missing, some extra), with hostile values. */
function dtoBody(fields: readonly string[]) {
  const fieldValue = fc.oneof({ arbitrary: hostileString, weight: 4 }, emailLike, jsonTree);
  return fc
    .tuple(
      fc.record(Object.fromEntries(fields.map((field) => [field, fieldValue])), { requiredKeys: [] }),
      fc.option(fc.dictionary(key, jsonTree, { maxKeys: 2 }), { freq: 4 }),
    )
    .map(([known, extra]) => JSON.stringify({ ...known, ...(extra ?? {}) }));
}

/** The route's fields holding numbers JSON cannot represent exactly. */
function hugeNumbersBody(fields: readonly string[]) {
  return fc
    .subarray([...fields], { minLength: 1 })
    .chain((chosen) => fc.tuple(fc.constant(chosen), fc.array(hugeNumberText, { minLength: chosen.length })))
    .map(([chosen, numbers]) => `{${chosen.map((field, index) => `"${field}":${numbers[index]}`).join(',')}}`);
}

/**
 * A body of the route's fields, each of the right type but hostile content (an address with odd
 * characters, a password of any code points), so that most get past validation to the throttles,
 * the password hash and the database.
 */
function plausibleBody(fields: readonly string[]) {
  const email = fc.oneof(
    fc.emailAddress(),
    // Local parts of any letters (validator.js accepts many), to the database and back.
    fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), fc.domain()).map(([l, d]) => `${l}@${d}`),
    emailLike,
  );
  const password = fc.oneof(hostileString, fc.string({ unit: 'binary', minLength: 8, maxLength: 300 }));
  const valueOf = (field: string): fc.Arbitrary<unknown> =>
    field === 'email'
      ? email
      : field === 'refreshToken' || field === 'token'
        ? fc.oneof(randomToken, hostileString)
        : password;
  return fc
    .record(Object.fromEntries(fields.map((field) => [field, valueOf(field)])), {
      requiredKeys: fields.filter((field) => field !== 'deviceName'),
    })
    .map((body) => JSON.stringify(body));
}

function bodyText(fields: readonly string[]) {
  return fc.oneof(
    { arbitrary: plausibleBody(fields), weight: 6 },
    { arbitrary: dtoBody(fields), weight: 4 },
    { arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)), weight: 2 },
    { arbitrary: jsonTree.map((value) => JSON.stringify(value) ?? 'null'), weight: 2 },
    { arbitrary: deepText, weight: 2 },
    { arbitrary: hugeNumbersBody(fields), weight: 1 },
    // Not JSON at all.
    { arbitrary: fc.string({ unit: 'binary', maxLength: 60 }), weight: 1 },
  );
}

/** Characters Node's HTTP client lets through in a header value (others throw client-side). */
const headerChar = fc.oneof(
  { arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), weight: 8 },
  { arbitrary: fc.constant('\t'), weight: 1 },
  { arbitrary: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)), weight: 1 },
);
const whitespace = fc.string({ unit: fc.constantFrom(' ', '\t'), maxLength: 4 });

const authorizationValue = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 300 }),
  fc
    .tuple(fc.mixedCase(fc.constantFrom('bearer', 'basic', 'bearerx', 'bear')), whitespace, whitespace)
    .chain(([scheme, before, after]) =>
      fc
        .string({ unit: fc.oneof(base64urlChar, headerChar, fc.constantFrom('.', '=', '+', '/', '~')), maxLength: 600 })
        .map((rest) => `${scheme}${before}${rest}${after}`),
    ),
  // Made of the pieces a parser looks for, in any order.
  fc
    .array(fc.constantFrom('Bearer', 'bearer', ' ', '\t', 'a', '.', '=', '==', 'eyJ', ','), { maxLength: 400 })
    .map((pieces) => pieces.join('')),
  // Long: past the parser's length cap, up to nearly all that Node accepts (16 kB of headers).
  fc
    .tuple(fc.string({ unit: headerChar, maxLength: 10 }), fc.integer({ min: 4_000, max: 15_000 }), headerChar)
    .map(([prefix, length, char]) => `${prefix}${char.repeat(length)}`),
);

/** Token-shaped strings: segments of base64url, of base64url-encoded JSON, and odd separators. */
const randomToken = fc.oneof(
  fc
    .array(fc.string({ unit: base64urlChar, maxLength: 120 }), { minLength: 1, maxLength: 5 })
    .map((segments) => segments.join('.')),
  fc
    .tuple(fc.jsonValue(), fc.jsonValue(), fc.string({ unit: base64urlChar, maxLength: 60 }))
    .map(([header, payload, signature]) => `${b64(header)}.${b64(payload)}.${signature}`),
  fc
    .tuple(fc.jsonValue(), fc.jsonValue())
    .map(([header, payload]) => `${b64({ ...(header as object), alg: 'none' })}.${b64(payload)}.`),
  fc.string({ unit: fc.oneof(base64urlChar, fc.constantFrom('.', '=', '+', '/')), minLength: 1, maxLength: 5_000 }),
);

/** One change to a real token; every change gives another string, so no result can still verify. */
const tokenMutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), char: base64urlChar }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(2), b: fc.nat(2) }),
  fc.record({ kind: fc.constant('alg' as const), alg: fc.constantFrom('none', 'None', 'NONE', 'HS512', 'RS256', '') }),
  fc.record({ kind: fc.constant('dots' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('append' as const),
    tail: fc.string({ unit: base64urlChar, minLength: 1, maxLength: 20 }),
  }),
  fc.record({ kind: fc.constant('claim' as const), claim: fc.constantFrom('sub', 'sid', 'typ', 'exp'), value: leaf }),
  fc.record({ kind: fc.constant('secret' as const), secret: fc.string({ minLength: 1, maxLength: 64 }) }),
  fc.record({ kind: fc.constant('unsigned' as const) }),
);
type TokenMutation = typeof tokenMutation extends fc.Arbitrary<infer T> ? T : never;

/** The token's payload, or {} when a mutation left none to read. */
function payloadOf(token: string): Record<string, unknown> {
  try {
    const payload = decode(token) as unknown;
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function mutate(token: string, mutation: TokenMutation): string {
  const parts = token.split('.');
  switch (mutation.kind) {
    case 'flip': {
      const at = mutation.at % token.length;
      return `${token.slice(0, at)}${mutation.char}${token.slice(at + 1)}`;
    }
    case 'swap':
      [parts[mutation.a], parts[mutation.b]] = [parts[mutation.b], parts[mutation.a]];
      return parts.join('.');
    case 'alg':
      return `${b64({ alg: mutation.alg, typ: 'JWT' })}.${parts[1]}.${mutation.alg.toLowerCase() === 'none' ? '' : parts[2]}`;
    case 'dots': {
      const at = mutation.at % (token.length + 1);
      return `${token.slice(0, at)}${'.'.repeat(mutation.count)}${token.slice(at)}`;
    }
    case 'truncate':
      return token.slice(0, mutation.at % token.length);
    case 'append':
      return `${token}${mutation.tail}`;
    case 'claim':
      // The payload changed, the signature kept.
      return `${parts[0]}.${b64({ ...payloadOf(token), [mutation.claim]: mutation.value })}.${parts[2]}`;
    case 'secret':
      return sign(payloadOf(token), `${mutation.secret}-not-the-secret`);
    case 'unsigned':
      return unsignedToken(payloadOf(token));
  }
}

// ---- Properties --------------------------------------------------------------------------------

describe(`property: hostile input only ever gets a documented answer (fast-check seed ${SEED})`, () => {
  let t: TestAppWithDatabase;
  /** Whose tokens are mutated and who signs in with hostile device names. */
  let user: LoggedIn;
  /** Whose token carries the bodies of /auth/password and /auth/account (wrong passwords throttle the account). */
  let victim: LoggedIn;
  let nextAddress = 0;
  /** A client address of its own for each request that must not be throttled by the others. */
  const freshAddress = () => {
    nextAddress += 1;
    return `10.${(nextAddress >> 16) & 255}.${(nextAddress >> 8) & 255}.${nextAddress & 255}`;
  };

  beforeAll(async () => {
    console.log(
      `property spec: fast-check seed ${SEED}${SEED === DEFAULT_SEED ? ' (the fixed default)' : ' (FC_SEED)'}`,
    );
    t = await createTestApp();
    user = await registerAndLogin(t.http);
    victim = await registerAndLogin(t.http);
  });
  afterAll(async () => {
    await t.close();
  });

  describe('request bodies', () => {
    const ROUTES = [
      { method: 'post', path: '/auth/register', fields: ['email', 'password'], codes: [201, 400, 409, 413, 429] },
      {
        method: 'post',
        path: '/auth/login',
        fields: ['email', 'password', 'deviceName'],
        codes: [200, 400, 401, 403, 413, 429],
      },
      { method: 'post', path: '/auth/refresh', fields: ['refreshToken'], codes: [200, 400, 401, 413] },
      {
        method: 'post',
        path: '/auth/password',
        fields: ['currentPassword', 'newPassword'],
        codes: [204, 400, 401, 413, 429],
        guarded: true,
      },
      {
        method: 'delete',
        path: '/auth/account',
        fields: ['password'],
        codes: [204, 400, 401, 413, 429],
        guarded: true,
      },
      { method: 'post', path: '/auth/password/forgot', fields: ['email'], codes: [202, 400, 413, 429] },
      { method: 'post', path: '/auth/password/reset', fields: ['token', 'newPassword'], codes: [204, 400, 413, 429] },
      { method: 'post', path: '/auth/email/verify', fields: ['token'], codes: [204, 400, 413] },
      { method: 'post', path: '/auth/email/verify/resend', fields: ['email'], codes: [202, 400, 413, 429] },
    ] as const;

    it.each(ROUTES)('$method $path: any body gets a documented code', async (route) => {
      // One address for all of this property's requests: its failed logins may well reach the
      // per-address limit, and 429 is a documented answer; other properties use other addresses.
      const address = freshAddress();
      await fc.assert(
        fc.asyncProperty(bodyText(route.fields), async (body) => {
          let call = t.http[route.method](route.path).set('Content-Type', 'application/json');
          call = call.set('X-Forwarded-For', address);
          if ('guarded' in route) call = call.set(...bearer(victim.accessToken));
          const response = await call.send(body);
          expectDocumented(response, route.codes, `${route.method} ${route.path}`);
          if (Buffer.byteLength(body) > BODY_LIMIT_BYTES) expect(response.status).toBe(413);
        }),
        params(150),
      );
    });
  });

  describe('sign-in with hostile device names, user agents and forwarded addresses', () => {
    const userAgent = fc.oneof(
      fc.constant(undefined),
      fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
        maxLength: 700,
      }),
      fc.constantFrom('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', 'curl/8.5.0', '  \t '),
    );
    const forwarded = fc.oneof(
      fc.ipV4(),
      fc.ipV6(),
      fc.string({
        unit: fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code)),
        maxLength: 1_000,
      }),
    );

    it('answers 200 and stores what fits, or 400 exactly when the device name cannot be stored', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.option(hostileString, { nil: undefined }),
          userAgent,
          forwarded,
          async (deviceName, agent, via) => {
            let call = t.http.post('/auth/login').set('X-Forwarded-For', via);
            if (agent !== undefined) call = call.set('User-Agent', agent);
            const response = await call.send({ email: user.email, password: PASSWORD, deviceName });
            const storable =
              deviceName === undefined ||
              (!deviceName.includes('\u0000') && !hasLoneSurrogate(deviceName) && codePointLength(deviceName) <= 100);
            expectDocumented(response, [200, 400], 'POST /auth/login');
            expect(response.status).toBe(storable ? 200 : 400);
            if (response.status !== 200) return;

            const [row] = await t.dataSource.query(
              `SELECT device_name, char_length(device_name) AS device_chars, user_agent, ip FROM sessions WHERE id = $1`,
              [response.body.sessionId],
            );
            expect(row.device_chars).toBeLessThanOrEqual(100);
            // Nothing lost: the name given is the name kept.
            const given = deviceName?.trim();
            if (given) expect(row.device_name).toBe(given);
            // Node trims spaces and tabs around a header value; the module keeps 512 characters of it.
            const sentAgent = agent?.replace(/^[ \t]+|[ \t]+$/g, '');
            expect(row.user_agent).toBe(sentAgent ? sentAgent.slice(0, 512) : null);
            if (row.ip !== null) expect(isIP(row.ip)).not.toBe(0);
            if (isIPv4(via)) expect(row.ip).toBe(via);
          },
        ),
        params(100),
      );
    });
  });

  describe('Authorization headers and tokens', () => {
    const GUARDED = [
      ['get', '/profile'],
      ['get', '/profile/strict'],
      ['get', '/auth/me'],
      ['get', '/auth/sessions'],
      ['post', '/auth/logout'],
      ['post', '/auth/logout-all'],
    ] as const;
    const guardedRoute = fc.constantFrom(...GUARDED);

    it('refuses any Authorization header value with 401 on every guarded route', async () => {
      await fc.assert(
        fc.asyncProperty(guardedRoute, authorizationValue, async ([method, path], value) => {
          const response = await t.http[method](path).set('Authorization', value);
          expectDocumented(response, [401], `${method} ${path}`);
        }),
        params(200),
      );
    });

    it('refuses random token strings and any mutation of a real token with 401', async () => {
      const mutated = fc
        .tuple(fc.constantFrom('access', 'refresh'), fc.array(tokenMutation, { minLength: 1, maxLength: 3 }))
        .map(([kind, mutations]) => {
          const original = kind === 'access' ? user.accessToken : user.refreshToken;
          return mutations.reduce(mutate, original);
        })
        // Only the access token itself is valid; a refresh token is refused as a bearer token.
        .filter((token) => token !== user.accessToken);
      await fc.assert(
        fc.asyncProperty(guardedRoute, fc.oneof(randomToken, mutated), async ([method, path], token) => {
          const response = await t.http[method](path).set('Authorization', `Bearer ${token}`);
          expectDocumented(response, [401], `${method} ${path} with Bearer ${token.slice(0, 200)}`);
        }),
        params(200),
      );
    });

    it('refuses tokens signed with the real secret but malformed claims with 401', async () => {
      const claims = fc
        .tuple(fc.constantFrom('sub', 'sid', 'jti', 'typ', 'iat', 'iat_ms', 'exp', 'auth_time_ms', 'extra'), leaf)
        .map(([claim, value]) => {
          const real = accessClaims({ sub: user.userId, sid: user.sessionId }, t.clock.now().getTime());
          return { ...real, [claim]: value };
        })
        // A value that happens to be valid (e.g. a plausible number) is not malformed.
        .filter((value) => {
          const real = accessClaims({ sub: user.userId, sid: user.sessionId }, t.clock.now().getTime());
          return (
            value.typ !== 'access' ||
            value.sub !== real.sub ||
            value.sid !== real.sid ||
            typeof value.jti !== 'string' ||
            !/^[0-9a-f-]{36}$/i.test(value.jti as string) ||
            'extra' in value ||
            !Number.isSafeInteger(value.iat) ||
            !Number.isSafeInteger(value.iat_ms) ||
            !Number.isSafeInteger(value.exp) ||
            !Number.isSafeInteger(value.auth_time_ms) ||
            Math.floor((value.iat_ms as number) / 1000) !== value.iat ||
            (value.exp as number) <= (value.iat as number)
          );
        });
      await fc.assert(
        fc.asyncProperty(guardedRoute, claims, async ([method, path], payload) => {
          const response = await t.http[method](path).set(...bearer(sign(payload)));
          expectDocumented(response, [401], `${method} ${path} with claims ${JSON.stringify(payload)}`);
        }),
        params(100),
      );
    });

    it('refuses as a refresh token any random string or mutation with 400 or 401', async () => {
      const mutated = fc
        .tuple(fc.constantFrom('access', 'refresh'), fc.array(tokenMutation, { minLength: 1, maxLength: 3 }))
        .map(([kind, mutations]) => mutations.reduce(mutate, kind === 'access' ? user.accessToken : user.refreshToken))
        // Presenting the real refresh token would rotate it (200); any other string must not.
        .filter((token) => token !== user.refreshToken);
      await fc.assert(
        fc.asyncProperty(fc.oneof(randomToken, mutated, hostileString), async (refreshToken) => {
          const response = await t.http.post('/auth/refresh').send({ refreshToken });
          expectDocumented(response, [400, 401], 'POST /auth/refresh');
        }),
        params(150),
      );
    });

    it('answers a device sign-out of any id with 400 or 404', async () => {
      const id = fc.oneof(
        fc.uuid(),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).map(encodeURIComponent),
        fc.string({ unit: fc.constantFrom('%', 'Z', '0', 'a', '-', '.', '~'), minLength: 1, maxLength: 40 }),
      );
      await fc.assert(
        fc.asyncProperty(id, async (sessionId) => {
          const response = await t.http.delete(`/auth/sessions/${sessionId}`).set(...bearer(user.accessToken));
          expectDocumented(response, [400, 404], `DELETE /auth/sessions/${sessionId}`);
        }),
        params(100),
      );
    });

    it('has lost nothing: the real tokens still work after all of the above', async () => {
      await t.http
        .get('/profile/strict')
        .set(...bearer(user.accessToken))
        .expect(200);
      const refreshed = await t.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
      expect(refreshed.body.sessionId).toBe(user.sessionId);
    });
  });
});
