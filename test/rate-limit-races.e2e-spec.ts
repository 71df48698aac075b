import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Response } from 'supertest';
import { RateLimitRepository } from '../src/auth/throttling/rate-limit.repository.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, Latch } from './support/latch.js';
import { PASSWORD, startTwoInstances, type TestApp, type TwoInstances, uniqueEmail } from './support/test-app.js';

/**
 * The sliding-window limits (rate_limit_hits) count, then record, in one transaction under an
 * advisory lock per (scope, key): two requests for the last place of a limit, on two instances,
 * must not both get it. Each limit is first raced with the request that takes the last place held
 * in its transaction (counted and recorded, not committed), then with rounds of concurrent
 * requests at random small delays, each round on a fresh key and checked on its own.
 */
describe('rate limits hold under concurrent requests, on two instances', () => {
  const REGISTER_MAX = 3;
  // The module's defaults, which the example app keeps: mails per client and per address.
  const MAIL_MAX_PER_IP = 20;
  const MAIL_MAX_PER_EMAIL = 5;
  const PASSWORD_CHECKS_MAX = 4;
  let instances: TwoInstances;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    instances = await startTwoInstances(new FakeClock(), {
      registerMaxPerIp: REGISTER_MAX,
      passwordChecksMaxPerIp: PASSWORD_CHECKS_MAX,
    });
    ({ a, b } = instances);
  });
  afterAll(async () => {
    await instances.close();
  });

  /** A client address never used before in this spec (IPv4: no per-network limit). */
  let clients = 0;
  const newClient = () => {
    clients += 1;
    return `203.0.${Math.floor(clients / 250) % 250}.${(clients % 250) + 1}`;
  };
  const register = (app: TestApp, ip: string, email = uniqueEmail('race')) =>
    app.http
      .post('/auth/register')
      .set('X-Forwarded-For', ip)
      .send({ email, password: PASSWORD })
      .then((response) => response);
  const forgot = (app: TestApp, ip: string, email = uniqueEmail('race')) =>
    app.http
      .post('/auth/password/forgot')
      .set('X-Forwarded-For', ip)
      .send({ email })
      .then((response) => response);
  const reset = (app: TestApp, ip: string) =>
    app.http
      .post('/auth/password/reset')
      .set('X-Forwarded-For', ip)
      .send({ token: randomBytes(32).toString('base64url'), newPassword: 'a brand new passphrase' })
      .then((response) => response);

  /** A login with a wrong password for an unknown address: 401 when checked, 429 when the budget refuses. */
  const login = (app: TestApp, ip: string) =>
    app.http
      .post('/auth/login')
      .set('X-Forwarded-For', ip)
      .send({ email: uniqueEmail('nobody'), password: 'a wrong guess' })
      .then((response) => response);

  /** Connections of the database waiting for an advisory lock. */
  const advisoryWaits = async () =>
    (
      (await a.dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
      )) as Array<{ n: number }>
    )[0].n;

  /**
   * Holds A's next count of `scope` after its hit is recorded, before its transaction commits,
   * and sends `next` to B meanwhile: B must wait (on the advisory lock, as pg_stat_activity shows)
   * instead of counting past the uncommitted hit. Both statuses, once A is released.
   */
  async function lastPlaceHeld(
    scope: string,
    last: () => Promise<Response>,
    next: () => Promise<Response>,
  ): Promise<[first: Response, second: Response]> {
    const repository = a.app.get(RateLimitRepository);
    const original = repository.hit.bind(repository);
    const latch = new Latch();
    let taken = false;
    const spy = jest.spyOn(repository, 'hit').mockImplementation((hits, andThen) => {
      const all = Array.isArray(hits) ? hits : [hits];
      if (taken || !all.some((hit) => hit.scope === scope)) return original(hits, andThen);
      taken = true;
      return original(hits, async (manager) => {
        await latch.hold();
        if (andThen) await andThen(manager);
      });
    });
    try {
      const first = last();
      await latch.reached;
      let answered = false;
      const second = next().then((response) => {
        answered = true;
        return response;
      });
      // Without the lock B would count A's hit as not there and answer at once.
      await eventually(async () => answered || (await advisoryWaits()) === 1, 5_000);
      expect(answered).toBe(false);
      latch.release();
      return [await first, await second];
    } finally {
      latch.release();
      spy.mockRestore();
    }
  }

  /**
   * `rounds` rounds of `count` requests at once (alternating instances, each after a random delay
   * of up to 10 ms) on a fresh key; in every round exactly `max` get `allowed`, the rest 429.
   */
  async function randomRounds(
    rounds: number,
    count: number,
    max: number,
    allowed: number,
    send: (app: TestApp, key: string) => Promise<Response>,
    freshKey: () => string,
  ): Promise<void> {
    for (let round = 0; round < rounds; round += 1) {
      const key = freshKey();
      const responses = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
          return send(i % 2 ? a : b, key);
        }),
      );
      const statuses = responses.map((response) => response.status);
      const tally = {
        allowed: statuses.filter((s) => s === allowed).length,
        refused: statuses.filter((s) => s === 429).length,
      };
      expect([round, tally]).toEqual([round, { allowed: max, refused: count - max }]);
    }
  }

  describe(`registrations per client (registerMaxPerIp ${REGISTER_MAX})`, () => {
    it('the last place held in its transaction: a registration on the other instance waits for it, then 429', async () => {
      const ip = newClient();
      for (let i = 1; i < REGISTER_MAX; i += 1) expect((await register(a, ip)).status).toBe(201);
      const [first, second] = await lastPlaceHeld(
        'register',
        () => register(a, ip),
        () => register(b, ip),
      );
      expect([first.status, second.status]).toEqual([201, 429]);
      expect(second.body.message).toMatch(/^Too many registrations from this address; retry in \d+ seconds$/);
    });

    it('random timing, 6 rounds of 8 registrations at once from one client: exactly 3 in every round', async () => {
      await randomRounds(6, 8, REGISTER_MAX, 201, (app, ip) => register(app, ip), newClient);
    });
  });

  describe(`forgot-password requests per client (mailMaxPerIp ${MAIL_MAX_PER_IP})`, () => {
    it('the last place held in its transaction: a request on the other instance waits for it, then 429', async () => {
      const ip = newClient();
      for (let i = 1; i < MAIL_MAX_PER_IP; i += 1) expect((await forgot(a, ip)).status).toBe(202);
      const [first, second] = await lastPlaceHeld(
        'reset-ip',
        () => forgot(a, ip),
        () => forgot(b, ip),
      );
      expect([first.status, second.status]).toEqual([202, 429]);
    });

    it('random timing, 5 rounds of 24 requests at once from one client (other addresses): exactly 20 in every round', async () => {
      await randomRounds(5, 24, MAIL_MAX_PER_IP, 202, (app, ip) => forgot(app, ip), newClient);
    });
  });

  describe(`forgot-password requests per address (mailMaxPerEmail ${MAIL_MAX_PER_EMAIL})`, () => {
    it('the last place held in its transaction (with the token and mail it writes): a request from another client waits for it, then 429', async () => {
      const email = uniqueEmail('race');
      expect((await register(a, newClient(), email)).status).toBe(201);
      for (let i = 1; i < MAIL_MAX_PER_EMAIL; i += 1) expect((await forgot(a, newClient(), email)).status).toBe(202);
      const [first, second] = await lastPlaceHeld(
        'reset-email',
        () => forgot(a, newClient(), email),
        () => forgot(b, newClient(), email),
      );
      expect([first.status, second.status]).toEqual([202, 429]);
    });

    it('random timing, 6 rounds of 8 requests at once for one address, each from another client: exactly 5 in every round', async () => {
      await randomRounds(
        6,
        8,
        MAIL_MAX_PER_EMAIL,
        202,
        (app, email) => forgot(app, newClient(), email),
        () => uniqueEmail('race'),
      );
    });
  });

  describe(`reset submissions per client (mailMaxPerIp ${MAIL_MAX_PER_IP})`, () => {
    it('the last place held in its transaction: a submission on the other instance waits for it, then 429', async () => {
      const ip = newClient();
      for (let i = 1; i < MAIL_MAX_PER_IP; i += 1) expect((await reset(a, ip)).status).toBe(400);
      const [first, second] = await lastPlaceHeld(
        'reset-submit-ip',
        () => reset(a, ip),
        () => reset(b, ip),
      );
      expect([first.status, first.body.message, second.status]).toEqual([400, 'Invalid or expired link', 429]);
    });

    it('random timing, 5 rounds of 24 guessed tokens at once from one client: exactly 20 checked (400) in every round', async () => {
      await randomRounds(5, 24, MAIL_MAX_PER_IP, 400, (app, ip) => reset(app, ip), newClient);
    });
  });

  describe(`password checks per client (passwordChecksMaxPerIp ${PASSWORD_CHECKS_MAX})`, () => {
    // The admission is one call of auth_admit_password_check: its lock cannot be held from here
    // in the middle, so a transaction of the test's own holds the client's key instead.
    it('counts under the client’s lock: a check waits while another transaction holds it, then is counted', async () => {
      const ip = newClient();
      const holder = await a.dataSource.createQueryRunner();
      await holder.connect();
      try {
        await holder.startTransaction();
        await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended('rate-limit:password-check:' || $1, 0))`, [
          ip,
        ]);
        let answered = false;
        const pending = login(b, ip).then((response) => {
          answered = true;
          return response;
        });
        await eventually(async () => answered || (await advisoryWaits()) === 1, 5_000);
        expect(answered).toBe(false);
        await holder.commitTransaction();
        expect((await pending).status).toBe(401);
      } finally {
        if (holder.isTransactionActive) await holder.rollbackTransaction();
        await holder.release();
      }
    });

    it('random timing, 4 rounds of 10 logins at once from one client: exactly 4 checked (401) in every round', async () => {
      await randomRounds(4, 10, PASSWORD_CHECKS_MAX, 401, (app, ip) => login(app, ip), newClient);
    });
  });
});
