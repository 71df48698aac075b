import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { KeyRotationPendingError, KeyRotationService, PurgeService, RevocationSyncService } from '../src/auth/index.js';
import { PurgeRepository } from '../src/auth/purge/purge.repository.js';
import { SigningKeyRepository } from '../src/auth/keys/signing-key.repository.js';
import { REGISTER_SCOPE } from '../src/auth/throttling/registration-throttle.service.js';
import { createTestDatabase, type TestDatabase, withAdminClient } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, holdNextCall } from './support/latch.js';
import { missingPgBouncerReason, type PgBouncer, startPgBouncer } from './support/pgbouncer.js';
import { bearer, PASSWORD, startApp, type TestApp, uniqueEmail } from './support/test-app.js';

const missing = missingPgBouncerReason();
if (missing && process.env.CI !== 'true') console.log(`PgBouncer specs skipped: ${missing}`);

/** The purge's and the keys' advisory lock keys (auth.constants.ts, signing-key.repository.ts). */
const PURGE_LOCK_KEY = 7_302_114_901n;
const SIGNING_KEYS_LOCK_KEY = 7_302_114_902n;

/**
 * The module behind PgBouncer in transaction mode, as a deployment that outgrew direct connections
 * runs it: DATABASE_URL through the pooler, where each transaction (or statement outside one) may
 * get another server connection, and DATABASE_LISTEN_URL straight to PostgreSQL for the listener.
 * Two instances, a real PgBouncer (test/support/pgbouncer.ts), the suite's PostgreSQL.
 */
(missing && process.env.CI !== 'true' ? describe.skip : describe)(
  'behind PgBouncer in transaction mode (DATABASE_URL pooled, DATABASE_LISTEN_URL direct)',
  () => {
    let bouncer: PgBouncer;
    let database: TestDatabase;
    let clock: FakeClock;
    let a: TestApp;
    let b: TestApp;
    beforeAll(async () => {
      if (missing) throw new Error(`CI=true and ${missing}`);
      bouncer = await startPgBouncer();
      database = await createTestDatabase();
      clock = new FakeClock();
      const config = { databaseListenUrl: database.url, registerMaxPerIp: 5, loginMaxFailedAttempts: 5 };
      a = await startApp(bouncer.through(database.url), { clock, config });
      b = await startApp(bouncer.through(database.url), { clock, config });
    }, 60_000);
    afterAll(async () => {
      await a?.close();
      await b?.close();
      await database?.drop();
      await bouncer?.stop();
    });

    /** Held and granted advisory locks on `key`, seen by PostgreSQL itself (not through the pooler). */
    const advisoryLocks = (key: bigint) =>
      withAdminClient(async (client) => {
        const { rows } = await client.query<{ granted: boolean }>(
          `SELECT granted FROM pg_locks
            WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 1 AND database = (
              SELECT oid FROM pg_database WHERE datname = $3)`,
          [String(key >> 32n), String(key & 0xffffffffn), database.name],
        );
        return { held: rows.filter((row) => row.granted).length, waiting: rows.filter((row) => !row.granted).length };
      });

    /** Advisory locks waited for in the test database, seen by PostgreSQL itself. */
    const waitingAdvisoryLocks = () =>
      withAdminClient(async (client) => {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted
              AND database = (SELECT oid FROM pg_database WHERE datname = $1)`,
          [database.name],
        );
        return rows[0].n;
      });

    /**
     * Several transactions at once, so that the pool holds several server connections: from then
     * on, statements outside a transaction go to them in turn (server_round_robin).
     */
    const warmUp = async (dataSource: DataSource) => {
      const runners = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const runner = dataSource.createQueryRunner();
          await runner.connect();
          await runner.startTransaction();
          await runner.query('SELECT 1');
          return runner;
        }),
      );
      for (const runner of runners) {
        await runner.commitTransaction();
        await runner.release();
      }
    };

    let clients = 0;
    const anotherClient = (): [string, string] => {
      clients += 1;
      return ['X-Forwarded-For', `198.51.100.${clients}`];
    };
    const newUser = async (app: TestApp) => {
      const email = uniqueEmail('pooled');
      await app.http
        .post('/auth/register')
        .set(...anotherClient())
        .send({ email, password: PASSWORD })
        .expect(201);
      const tokens = await app.http.post('/auth/login').send({ email, password: PASSWORD }).expect(200);
      return { email, accessToken: tokens.body.accessToken as string };
    };
    const status = async (app: TestApp, token: string, path = '/profile') =>
      (await app.http.get(path).set(...bearer(token))).status;

    it('runs the app through the pooler: one client connection, several server connections', async () => {
      expect((a.dataSource.options as { url?: string }).url).toContain(`:${bouncer.port}/`);
      await warmUp(a.dataSource);
      // Two statements on one connection of the app's pool, outside a transaction: two server connections.
      const runner = a.dataSource.createQueryRunner();
      await runner.connect();
      try {
        const pids = new Set<number>();
        for (let i = 0; i < 4; i += 1) pids.add((await runner.query('SELECT pg_backend_pid() AS pid'))[0].pid);
        expect(pids.size).toBeGreaterThan(1);
      } finally {
        await runner.release();
      }
    });

    describe('the purge lock', () => {
      it('three purges in a row all run (none skipped), and none leaves its lock on a server connection', async () => {
        await warmUp(a.dataSource);
        const purges = a.app.get(PurgeService);
        for (let i = 0; i < 3; i += 1) {
          expect((await purges.purgeExpired()).skipped).toBe(false);
          expect(await advisoryLocks(PURGE_LOCK_KEY)).toEqual({ held: 0, waiting: 0 });
        }
        // And from the other instance too.
        expect((await b.app.get(PurgeService).purgeExpired()).skipped).toBe(false);
      });

      it('one purge at a time across instances: the lock holds while the purge runs, and is gone after', async () => {
        await warmUp(a.dataSource);
        const held = holdNextCall(a.app.get(PurgeRepository), 'deleteEndedSessions');
        try {
          const running = a.app.get(PurgeService).purgeExpired();
          await held.latch.reached;
          expect(await advisoryLocks(PURGE_LOCK_KEY)).toEqual({ held: 1, waiting: 0 });
          // Through the pooler, on whichever server connection: the other instance sees the lock.
          for (let i = 0; i < 3; i += 1) expect((await b.app.get(PurgeService).purgeExpired()).skipped).toBe(true);
          held.latch.release();
          expect((await running).skipped).toBe(false);
        } finally {
          held.latch.release();
          held.restore();
        }
        expect(await advisoryLocks(PURGE_LOCK_KEY)).toEqual({ held: 0, waiting: 0 });
        expect((await b.app.get(PurgeService).purgeExpired()).skipped).toBe(false);
      });

      it('a lock held by another connection skips the purge until it is released', async () => {
        const other = new pg.Client({ connectionString: database.url });
        await other.connect();
        try {
          await other.query('SELECT pg_advisory_lock($1)', [String(PURGE_LOCK_KEY)]);
          expect((await a.app.get(PurgeService).purgeExpired()).skipped).toBe(true);
          await other.query('SELECT pg_advisory_unlock($1)', [String(PURGE_LOCK_KEY)]);
          expect((await a.app.get(PurgeService).purgeExpired()).skipped).toBe(false);
        } finally {
          await other.end();
        }
      });
    });

    it('the keys lock: two rotations at once through the pooler wait for each other, and only one key is added', async () => {
      await warmUp(a.dataSource);
      const before = (await a.dataSource.query('SELECT count(*)::int AS n FROM signing_keys'))[0].n as number;
      // A's rotation holds the lock inside its transaction, just before it inserts the new key.
      const held = holdNextCall(a.app.get(SigningKeyRepository), 'insert');
      try {
        const first = a.app.get(KeyRotationService).rotate();
        await held.latch.reached;
        const second = b.app
          .get(KeyRotationService)
          .rotate()
          .then(
            () => 'rotated',
            (error: unknown) => error,
          );
        // B waits for the lock A holds, on another server connection.
        await eventually(async () => (await advisoryLocks(SIGNING_KEYS_LOCK_KEY)).waiting === 1, 5_000);
        expect(await advisoryLocks(SIGNING_KEYS_LOCK_KEY)).toEqual({ held: 1, waiting: 1 });
        held.latch.release();
        await first;
        // B saw A's key once A committed: a key already waits to sign, so B adds none.
        expect(await second).toBeInstanceOf(KeyRotationPendingError);
      } finally {
        held.latch.release();
        held.restore();
      }
      expect((await a.dataSource.query('SELECT count(*)::int AS n FROM signing_keys'))[0].n).toBe(before + 1);
      expect(await advisoryLocks(SIGNING_KEYS_LOCK_KEY)).toEqual({ held: 0, waiting: 0 });
    });

    describe('the throttles', () => {
      /** Holds an advisory lock on `key` (hashed as the module does) on a direct connection, runs `request`. */
      const whileLockedElsewhere = async (key: string, request: () => PromiseLike<{ status: number }>) => {
        const other = new pg.Client({ connectionString: database.url });
        await other.connect();
        try {
          await other.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key]);
          let answered = false;
          const pending = Promise.resolve(request()).then((response) => {
            answered = true;
            return response.status;
          });
          // The request's transaction, on a server connection of the pooler, waits for the lock.
          await eventually(async () => (await waitingAdvisoryLocks()) === 1, 5_000);
          expect(answered).toBe(false);
          await other.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key]);
          return await pending;
        } finally {
          await other.end();
        }
      };

      it('a login attempt waits for the throttle lock of its client address, held elsewhere', async () => {
        const user = await newUser(a);
        const ip = '203.0.113.23';
        const answer = await whileLockedElsewhere(`login-throttle:${ip}`, () =>
          a.http.post('/auth/login').set('X-Forwarded-For', ip).send({ email: user.email, password: 'wrong guess' }),
        );
        expect(answer).toBe(401);
      });

      it('a registration waits for the rate-limit lock of its client address, held elsewhere', async () => {
        const ip = '203.0.113.24';
        const answer = await whileLockedElsewhere(`rate-limit:${REGISTER_SCOPE}:${ip}`, () =>
          b.http
            .post('/auth/register')
            .set('X-Forwarded-For', ip)
            .send({ email: uniqueEmail('waits'), password: PASSWORD }),
        );
        expect(answer).toBe(201);
      });

      it('login failures: twelve wrong passwords at once from one client, on both instances, get exactly five 401s', async () => {
        const user = await newUser(a);
        const client: [string, string] = ['X-Forwarded-For', '203.0.113.21'];
        const statuses = await Promise.all(
          Array.from(
            { length: 12 },
            async (_, i) =>
              (
                await (i % 2 === 0 ? a : b).http
                  .post('/auth/login')
                  .set(...client)
                  .send({ email: user.email, password: 'not the password' })
              ).status,
          ),
        );
        expect(statuses.filter((code) => code === 401)).toHaveLength(5);
        expect(statuses.filter((code) => code === 429)).toHaveLength(7);
        // Locked on both instances, even with the right password.
        for (const app of [a, b]) {
          await app.http
            .post('/auth/login')
            .set(...client)
            .send({ email: user.email, password: PASSWORD })
            .expect(429);
        }
      });

      it('a rate limit: twelve registrations at once from one client, on both instances, get exactly five 201s', async () => {
        const client: [string, string] = ['X-Forwarded-For', '203.0.113.22'];
        const statuses = await Promise.all(
          Array.from(
            { length: 12 },
            async (_, i) =>
              (
                await (i % 2 === 0 ? a : b).http
                  .post('/auth/register')
                  .set(...client)
                  .send({ email: uniqueEmail('burst'), password: PASSWORD })
              ).status,
          ),
        );
        expect(statuses.filter((code) => code === 201)).toHaveLength(5);
        expect(statuses.filter((code) => code === 429)).toHaveLength(7);
      });
    });

    it('checks strict routes in the database through the pooler, request after request (no named prepared statement)', async () => {
      const user = await newUser(a);
      await warmUp(b.dataSource);
      // Whichever server connection each check lands on: a statement prepared on one is unknown on the others.
      const statuses: number[] = [];
      for (let i = 0; i < 8; i += 1) statuses.push(await status(b, user.accessToken, '/profile/strict'));
      expect(statuses).toEqual(Array(8).fill(200));
      await a.http
        .post('/auth/logout')
        .set(...bearer(user.accessToken))
        .expect(204);
      expect(await status(b, user.accessToken, '/profile/strict')).toBe(401);
    });

    describe('the listener, straight to PostgreSQL', () => {
      it('a logout on one instance is refused on the other from memory', async () => {
        const sync = b.app.get(RevocationSyncService);
        expect(sync.status).toBe('live');
        const user = await newUser(a);
        expect(await status(b, user.accessToken)).toBe(200);
        await a.http
          .post('/auth/logout')
          .set(...bearer(user.accessToken))
          .expect(204);
        await eventually(async () => (await status(b, user.accessToken)) === 401, 2_000);
      });

      it('with the LISTEN connection down, the instance fails closed through the pooler, then listens again', async () => {
        const sync = b.app.get(RevocationSyncService);
        const pid = sync.listenerBackendPid;
        expect(pid).not.toBeNull();
        const victim = await newUser(a);
        expect(await status(b, victim.accessToken)).toBe(200);
        await withAdminClient((client) => client.query('SELECT pg_terminate_backend($1)', [pid]));
        await eventually(() => sync.status !== 'live', 5_000);
        // Revoked while B cannot hear it: B reads the database, through the pooler, and refuses at once.
        await a.http
          .post('/auth/logout')
          .set(...bearer(victim.accessToken))
          .expect(204);
        expect(await status(b, victim.accessToken)).toBe(401);
        // Logins and other users keep working meanwhile, each request checked in the database.
        const other = await newUser(b);
        for (let i = 0; i < 6; i += 1) {
          expect(await status(b, other.accessToken)).toBe(200);
          expect(await status(b, victim.accessToken)).toBe(401);
        }
        await eventually(() => sync.status === 'live' && sync.listenerBackendPid !== pid, 10_000);
        expect(await status(b, victim.accessToken)).toBe(401);
        expect(await status(b, other.accessToken)).toBe(200);
      });
    });
  },
);
