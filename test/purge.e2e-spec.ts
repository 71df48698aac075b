import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { type INestApplication, Injectable } from '@nestjs/common';
import { Interval, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import type { CronJob } from 'cron';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { AUTH_CLOCK, AUTH_ENTITIES, AuthModule, PurgeService } from '../src/auth/index.js';
import { PurgeRepository } from '../src/auth/purge/purge.repository.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { holdNextCall } from './support/latch.js';
import { bearer, createTestApp, registerAndLogin, TEST_SECRET } from './support/test-app.js';

/** What a purge that found another one holding the lock answers. */
const SKIPPED = {
  skipped: true,
  revokedTokens: 0,
  sessions: 0,
  loginFailures: 0,
  rateLimitHits: 0,
  deletedUsers: 0,
  accountTokens: 0,
  mfaChallenges: 0,
  webauthnChallenges: 0,
  oidcSignIns: 0,
  events: 0,
  statements: 0,
  signingKeys: 0,
};

const PURGE_ADVISORY_LOCK_KEY = 7_302_114_901;

describe('purge of expired denylist rows and ended sessions', () => {
  let database: TestDatabase;
  let app: INestApplication;
  let dataSource: DataSource;
  const clock = new FakeClock(new Date('2026-11-23T12:00:00Z'));
  let userId: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    // Imported with forRoot, as a host app without async configuration would.
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
        AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: false, purgeBatchSize: 3, sessionRetention: 3_600 }),
      ],
    })
      .overrideProvider(AUTH_CLOCK)
      .useValue(clock)
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    dataSource = app.get(DataSource);
    [{ id: userId }] = await dataSource.query(
      `INSERT INTO users (email, email_canonical, password_hash) VALUES ('p@example.com', 'p@example.com', 'x') RETURNING id`,
    );
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });
  beforeEach(async () => {
    await dataSource.query('DELETE FROM revoked_tokens');
    await dataSource.query('DELETE FROM sessions');
  });

  const at = (secondsFromNow: number) => new Date(clock.now().getTime() + secondsFromNow * 1000);
  async function insertRevokedTokens(count: number, expiresAt: Date): Promise<void> {
    for (let i = 0; i < count; i += 1) {
      await dataSource.query(
        `INSERT INTO revoked_tokens (jti, user_id, expires_at, revoked_at, reason) VALUES ($1, $2, $3, $4, 'logout')`,
        [randomUUID(), userId, expiresAt, at(-1_000)],
      );
    }
  }
  async function insertSession(ends: {
    expiresAt: Date;
    refreshExpiresAt: Date;
    revokedAt: Date | null;
  }): Promise<string> {
    const id = randomUUID();
    await dataSource.query(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, refresh_token_hash, refresh_expires_at, revoked_at)
       VALUES ($1, $2, $3, $3, $4, $5, $6, $7)`,
      [id, userId, at(-100_000), ends.expiresAt, 'a'.repeat(64), ends.refreshExpiresAt, ends.revokedAt],
    );
    return id;
  }
  const count = async (table: string) =>
    (await dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n as number;

  it('deletes only denylist rows whose token has expired, in batches of the configured size', async () => {
    await insertRevokedTokens(7, at(-1));
    await insertRevokedTokens(2, at(60));
    const result = await app.get(PurgeService).purgeExpired();
    // 7 rows in batches of 3: 3 + 3 + 1 batches for tokens, 1 each for sessions, failed logins, rate-limit hits,
    // tombstones, account tokens, second steps of sign-in, passkey challenges, provider sign-ins and their codes, events.
    expect(result).toEqual({
      skipped: false,
      revokedTokens: 7,
      sessions: 0,
      loginFailures: 0,
      rateLimitHits: 0,
      deletedUsers: 0,
      accountTokens: 0,
      mfaChallenges: 0,
      webauthnChallenges: 0,
      oidcSignIns: 0,
      events: 0,
      statements: 13,
      signingKeys: 0,
    });
    expect(await count('revoked_tokens')).toBe(2);
  });

  it('deletes sessions only once they ended more than the retention ago', async () => {
    const far = at(1_000_000);
    const revokedLongAgo = await insertSession({ expiresAt: far, refreshExpiresAt: far, revokedAt: at(-3_601) });
    const expiredLongAgo = await insertSession({
      expiresAt: at(-4_000),
      refreshExpiresAt: at(-5_000),
      revokedAt: null,
    });
    const idleLongAgo = await insertSession({ expiresAt: far, refreshExpiresAt: at(-3_700), revokedAt: null });
    const revokedRecently = await insertSession({ expiresAt: far, refreshExpiresAt: far, revokedAt: at(-3_599) });
    const active = await insertSession({ expiresAt: far, refreshExpiresAt: far, revokedAt: null });

    const result = await app.get(PurgeService).purgeExpired();

    expect(result.sessions).toBe(3);
    const left = (await dataSource.query('SELECT id FROM sessions')).map((row: { id: string }) => row.id).sort();
    expect(left).toEqual([revokedRecently, active].sort());
    expect(left).not.toContain(revokedLongAgo);
    expect(left).not.toContain(expiredLongAgo);
    expect(left).not.toContain(idleLongAgo);
  });

  it('deletes failed-login rows once they are out of the throttling window', async () => {
    await dataSource.query('DELETE FROM login_failures');
    for (const secondsAgo of [901, 1_000, 899, 10]) {
      await dataSource.query(`INSERT INTO login_failures (account_key, ip, failed_at) VALUES ($1, '10.0.0.1', $2)`, [
        'b'.repeat(64),
        at(-secondsAgo),
      ]);
    }
    expect((await app.get(PurgeService).purgeExpired()).loginFailures).toBe(2);
    expect(await count('login_failures')).toBe(2);
  });

  it('does nothing while another instance holds the advisory lock, and purges once it is released', async () => {
    await insertRevokedTokens(2, at(-1));
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      await other.query('SELECT pg_advisory_lock($1)', [PURGE_ADVISORY_LOCK_KEY]);
      const skipped = await app.get(PurgeService).purgeExpired();
      expect(skipped).toEqual(SKIPPED);
      expect(await count('revoked_tokens')).toBe(2);
      await other.query('SELECT pg_advisory_unlock($1)', [PURGE_ADVISORY_LOCK_KEY]);
      expect((await app.get(PurgeService).purgeExpired()).revokedTokens).toBe(2);
    } finally {
      await other.end();
    }
  });

  it('runs one purge at a time: a purge started while another is inside the lock is skipped', async () => {
    await insertRevokedTokens(2, at(-1));
    const purges = app.get(PurgeRepository);
    const service = app.get(PurgeService);
    // Hold the first purge in its first batch, inside the lock, until the second one has answered.
    const { latch, restore } = holdNextCall(purges, 'deleteExpiredRevokedTokens');
    let first: Promise<unknown> | undefined;
    try {
      first = service.purgeExpired();
      await latch.reached;
      const second = await service.purgeExpired();
      expect(second).toEqual(SKIPPED);
      expect(await count('revoked_tokens')).toBe(2);
      latch.release();
      expect(await first).toEqual({
        skipped: false,
        revokedTokens: 2,
        sessions: 0,
        loginFailures: 0,
        rateLimitHits: 0,
        deletedUsers: 0,
        accountTokens: 0,
        mfaChallenges: 0,
        webauthnChallenges: 0,
        oidcSignIns: 0,
        events: 0,
        statements: 11,
        signingKeys: 0,
      });
    } finally {
      latch.release();
      await first?.catch(() => undefined);
      restore();
    }
  });

  it('releases the lock after a purge, so that another connection can take it', async () => {
    await app.get(PurgeService).purgeExpired();
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      const [{ locked }] = (await other.query('SELECT pg_try_advisory_lock($1) AS locked', [PURGE_ADVISORY_LOCK_KEY]))
        .rows;
      expect(locked).toBe(true);
    } finally {
      await other.end();
    }
  });
});

describe('the scheduled purge job', () => {
  it('is the module’s own when the host has no ScheduleModule, runs PURGE_CRON, and purges when it fires', async () => {
    const t = await createTestApp({ config: { purgeCron: '*/5 * * * *' }, schedulePurge: true });
    const purge = t.app.get(PurgeService);
    const job = purge.scheduledJob as CronJob;
    try {
      expect(job.cronTime.source).toBe('*/5 * * * *');
      expect(job.isActive).toBe(true);

      const user = await registerAndLogin(t.http);
      await t.http
        .post('/auth/logout')
        .set(...bearer(user.accessToken))
        .expect(204);
      t.clock.advance(8 * 24 * 3600);
      await job.fireOnTick();
      // The tick starts the purge without waiting for it: poll (bounded) for its effect, on both
      // tables (it purges them one after the other, in transactions of their own).
      const left = async () => ({
        tokens: (await t.dataSource.query('SELECT jti FROM revoked_tokens')).length,
        sessions: (await t.dataSource.query('SELECT id FROM sessions WHERE id = $1', [user.sessionId])).length,
      });
      let rows = await left();
      for (let attempt = 0; attempt < 100 && rows.tokens + rows.sessions > 0; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        rows = await left();
      }
      expect(rows).toEqual({ tokens: 0, sessions: 0 });
    } finally {
      await t.close();
    }
    // Closing the app stops the job.
    expect(job.isActive).toBe(false);
    expect(purge.scheduledJob).toBeUndefined();
  });

  describe('in a host that imports ScheduleModule.forRoot() with jobs of its own', () => {
    const TICK_MS = 40;
    const RUNS = 8;

    @Injectable()
    class HostJobs {
      readonly runs: number[] = [];
      @Interval('host-heartbeat', TICK_MS)
      heartbeat(): void {
        this.runs.push(performance.now());
      }
    }

    let database: TestDatabase;
    let app: INestApplication;
    beforeAll(async () => {
      database = await createTestDatabase();
      const moduleRef = await Test.createTestingModule({
        imports: [
          ScheduleModule.forRoot(),
          TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
          AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: '*/10 * * * *' }),
        ],
        providers: [HostJobs],
      }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
    });
    afterAll(async () => {
      await app?.close();
      await database?.drop();
    });

    it('runs each host job once per tick: the module adds no second scheduler', async () => {
      const jobs = app.get(HostJobs);
      for (let waited = 0; jobs.runs.length < RUNS; waited += TICK_MS) {
        if (waited > 20_000) throw new Error(`only ${jobs.runs.length} runs of the host job`);
        await new Promise((resolve) => setTimeout(resolve, TICK_MS));
      }
      // A timer never fires early: one job needs at least RUNS-1 whole ticks between its first and
      // its RUNS-th run. Explored twice, it would run twice per tick and get there in half the time.
      const [first, , , , , , , eighth] = jobs.runs;
      expect(eighth - first).toBeGreaterThanOrEqual((RUNS - 1) * TICK_MS - RUNS);
    });

    it('lists the purge once in the host’s SchedulerRegistry, and removes it at close', async () => {
      const registry = app.get(SchedulerRegistry);
      expect([...registry.getCronJobs().keys()]).toEqual(['auth-purge']);
      expect(registry.getCronJob('auth-purge')).toBe(app.get(PurgeService).scheduledJob);
      expect(registry.getIntervals()).toEqual(['host-heartbeat']);
    });
  });
});
