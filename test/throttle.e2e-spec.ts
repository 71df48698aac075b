import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { PASSWORD_HASHER, type PasswordHasher } from '../src/auth/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import {
  createTestApp,
  PASSWORD,
  startApp,
  type TestApp,
  type TestAppWithDatabase,
  uniqueEmail,
} from './support/test-app.js';

const attempt = (t: TestApp, email: string, password: string, ip: string) =>
  t.http.post('/auth/login').set('X-Forwarded-For', ip).send({ email, password });

async function register(t: TestApp): Promise<string> {
  const email = uniqueEmail('throttle');
  await t.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
  return email;
}

describe('login throttling', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp({ config: { loginMaxFailedAttemptsPerIp: 12 } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 429 with Retry-After after 5 failures, without hashing, until the window has passed', async () => {
    const email = await register(t);
    const ip = '203.0.113.1';
    for (let i = 0; i < 5; i += 1) await attempt(t, email, 'wrong password', ip).expect(401);

    const verify = jest.spyOn(t.app.get<PasswordHasher>(PASSWORD_HASHER), 'verify');
    try {
      const throttled = await attempt(t, email, PASSWORD, ip).expect(429);
      expect(throttled.headers['retry-after']).toBe('900');
      expect(throttled.body).toEqual({
        statusCode: 429,
        message: 'Too many failed login attempts; retry in 900 seconds',
        error: 'Too Many Requests',
      });
      expect(verify).not.toHaveBeenCalled();

      // Hammering during the lock is not counted: the lock still ends one window after it began.
      for (let i = 0; i < 10; i += 1) await attempt(t, email, 'wrong password', ip).expect(429);
      t.clock.advance(899);
      expect((await attempt(t, email, PASSWORD, ip).expect(429)).headers['retry-after']).toBe('1');
      expect(verify).not.toHaveBeenCalled();
    } finally {
      verify.mockRestore();
    }
    t.clock.advance(1);
    await attempt(t, email, PASSWORD, ip).expect(200);
  });

  it('never locks out another account, nor the same account from another client', async () => {
    const victim = await register(t);
    const bystander = await register(t);
    for (let i = 0; i < 5; i += 1) await attempt(t, victim, 'guess', '203.0.113.2').expect(401);
    await attempt(t, victim, PASSWORD, '203.0.113.2').expect(429);
    await attempt(t, bystander, PASSWORD, '203.0.113.2').expect(200);
    await attempt(t, victim, PASSWORD, '198.51.100.9').expect(200);
  });

  it("resets the account's count on a successful login", async () => {
    const email = await register(t);
    const ip = '203.0.113.3';
    for (let i = 0; i < 4; i += 1) await attempt(t, email, 'typo', ip).expect(401);
    await attempt(t, email, PASSWORD, ip).expect(200);
    for (let i = 0; i < 4; i += 1) await attempt(t, email, 'typo', ip).expect(401);
    await attempt(t, email, PASSWORD, ip).expect(200);
  });

  it('counts unknown emails too, so that 429 reveals nothing about who is registered', async () => {
    const ghost = uniqueEmail('ghost');
    for (let i = 0; i < 5; i += 1) await attempt(t, ghost, 'whatever1', '203.0.113.4').expect(401);
    await attempt(t, ghost, 'whatever1', '203.0.113.4').expect(429);
  });

  it('limits one client IP over all accounts (here 12 failures)', async () => {
    const ip = '203.0.113.5';
    for (let i = 0; i < 12; i += 1) await attempt(t, uniqueEmail('spray'), 'Winter2026!', ip).expect(401);
    const fresh = await register(t);
    await attempt(t, fresh, PASSWORD, ip).expect(429);
    await attempt(t, fresh, PASSWORD, '203.0.113.6').expect(200);
  });

  it('lets exactly 5 of 10 concurrent wrong attempts through to the password check', async () => {
    const email = await register(t);
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => attempt(t, email, 'concurrent guess', '203.0.113.7')),
    );
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429, 429, 429]);
  });

  it('costs the same time for an unknown email as for a wrong password (median ratio)', async () => {
    const email = await register(t);
    const timings = { unknown: [] as number[], wrong: [] as number[] };
    for (let i = 0; i < 15; i += 1) {
      // Distinct client IPs keep throttling out of the measurement.
      for (const kind of ['unknown', 'wrong'] as const) {
        const started = process.hrtime.bigint();
        await attempt(
          t,
          kind === 'unknown' ? uniqueEmail('nobody') : email,
          `wrong ${i}`,
          `10.9.${i}.${kind === 'unknown' ? 1 : 2}`,
        ).expect(401);
        timings[kind].push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const ratio = median(timings.unknown) / median(timings.wrong);
    console.log(
      `login timing: unknown email ${median(timings.unknown).toFixed(1)} ms, wrong password ${median(timings.wrong).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`,
    );
    // Without the dummy hash an unknown email costs a few percent of a wrong password.
    expect(ratio).toBeGreaterThan(0.7);
    expect(ratio).toBeLessThan(1.4);
  });
});

describe('login throttling across two instances sharing one database', () => {
  let database: TestDatabase;
  let first: TestApp;
  let second: TestApp;
  beforeAll(async () => {
    database = await createTestDatabase();
    const clock = new FakeClock();
    first = await startApp(database.url, { clock });
    second = await startApp(database.url, { clock });
  });
  afterAll(async () => {
    await first.close();
    await second.close();
    await database.drop();
  });

  it('shares the count: 3 failures on one and 2 on the other lock both', async () => {
    const email = await register(first);
    const ip = '203.0.113.50';
    for (let i = 0; i < 3; i += 1) await attempt(first, email, 'wrong', ip).expect(401);
    for (let i = 0; i < 2; i += 1) await attempt(second, email, 'wrong', ip).expect(401);
    await attempt(first, email, PASSWORD, ip).expect(429);
    await attempt(second, email, PASSWORD, ip).expect(429);
  });
});

describe('login throttling with limits past 32-bit integers (a host switching a count off)', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp({
      config: {
        loginMaxFailedAttemptsPerIp: Number.MAX_SAFE_INTEGER,
        loginMaxFailedAttemptsPerAccount: Number.MAX_SAFE_INTEGER,
      },
    });
  });
  afterAll(async () => {
    await t.close();
  });

  it('still checks passwords: a wrong one is 401, the right one signs in', async () => {
    const email = await register(t);
    await attempt(t, email, 'wrong password', '203.0.113.90').expect(401);
    await attempt(t, email, PASSWORD, '203.0.113.90').expect(200);
  });
});
