import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type QueryRunner } from 'typeorm';
import { AUTH_CLOCK, AUTH_ENTITIES, AuthModule, PurgeService } from '../src/auth/index.js';
import { PURGE_TARGETS, PurgeRepository } from '../src/auth/purge/purge.repository.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { TEST_SECRET } from './support/test-app.js';

/**
 * Every purge batch must cost in proportion to the batch, whatever the statistics say: a
 * `DELETE … WHERE key IN (SELECT … LIMIT n)` left its plan to the planner, and on PostgreSQL 15
 * right after a bulk load its first batch ran for over ten minutes. Here the statistics are made
 * to lie in several ways, and the plan of every statement a real purge runs is checked (EXPLAIN in
 * the same transaction, with the same settings, just before the statement itself runs).
 */

const EXPIRED = 6_000;
const LIVE = 500;
const BATCH = 2_000;
const TABLES = ['revoked_tokens', 'login_failures', 'sessions'] as const;
/** The index each table's batches must be read from. */
const INDEX_OF: Record<string, string> = Object.fromEntries(
  Object.values(PURGE_TARGETS).map((target) => [target.table, target.index]),
);
/** PostgreSQL up to 17 adds disable_cost (1e10) to a disabled plan node; 18 marks it "Disabled". */
const DISABLE_COST = 1e10;

interface PlanNode {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Total Cost': number;
  'Actual Rows'?: number;
  Disabled?: boolean;
  Plans?: PlanNode[];
}

interface Recorded {
  sql: string;
  plan: PlanNode;
}

/** A query runner that EXPLAINs each SELECT and DELETE (SELECTs with ANALYZE: they change nothing) before running it. */
function recording(runner: QueryRunner, into: Recorded[]): QueryRunner {
  return new Proxy(runner, {
    get(target, property) {
      if (property === 'query') {
        return async (sql: string, parameters?: unknown[], structured?: boolean) => {
          const kind = /^\s*(SELECT|DELETE|WITH|UPDATE)\b/i.exec(sql)?.[1].toUpperCase();
          if (kind) {
            const options = kind === 'SELECT' ? 'ANALYZE, FORMAT JSON' : 'FORMAT JSON';
            const [row] = (await target.query(`EXPLAIN (${options}) ${sql}`, parameters)) as Array<{
              'QUERY PLAN': Array<{ Plan: PlanNode }>;
            }>;
            into.push({ sql, plan: row['QUERY PLAN'][0].Plan });
          }
          return structured ? target.query(sql, parameters, true) : target.query(sql, parameters);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function nodes(plan: PlanNode, parent: PlanNode | null = null): Array<{ node: PlanNode; parent: PlanNode | null }> {
  return [{ node: plan, parent }, ...(plan.Plans ?? []).flatMap((child) => nodes(child, plan))];
}

const describePlan = (plan: PlanNode): string =>
  nodes(plan)
    .map(({ node }) => `${node['Node Type']}${node['Index Name'] ? ` (${node['Index Name']})` : ''}`)
    .join(' > ');

/**
 * What a batch statement may look like: row addresses collected by an Index Scan, on the table's
 * purge index, that a LIMIT stops; rows deleted by a Tid Scan of those addresses. No sequential or
 * bitmap scan, sort, join or parallel plan, which would read rows in proportion to the table; and
 * no disabled node, which would mean the planner had no plan the settings allow.
 */
function expectBatchPlan({ sql, plan }: Recorded): void {
  const context = `${sql}\n  plan: ${describePlan(plan)}`;
  const allowed = ['ModifyTable', 'Tid Scan', 'Index Scan', 'Limit', 'Aggregate', 'Result'];
  for (const { node, parent } of nodes(plan)) {
    expect({ context, type: node['Node Type'] }).toEqual({
      context,
      type: expect.stringMatching(new RegExp(`^(${allowed.join('|')})$`)),
    });
    expect({ context, disabled: node.Disabled === true || node['Total Cost'] >= DISABLE_COST }).toEqual({
      context,
      disabled: false,
    });
    if (node['Node Type'] === 'Index Scan') {
      expect({ context, index: node['Index Name'], under: parent?.['Node Type'] }).toEqual({
        context,
        index: INDEX_OF[node['Relation Name'] ?? ''],
        under: 'Limit',
      });
      if (node['Actual Rows'] !== undefined) expect(node['Actual Rows']).toBeLessThanOrEqual(BATCH);
    }
  }
  if (plan['Node Type'] === 'ModifyTable') {
    // The rows deleted are read by address only, never by a scan over the expired range.
    const source = (plan.Plans ?? []).filter((child) => !/InitPlan|SubPlan/.test(child['Parent Relationship'] ?? ''));
    expect({ context, source: source.map((child) => child['Node Type']) }).toEqual({ context, source: ['Tid Scan'] });
  }
}

/** Loads EXPIRED rows to purge and LIVE rows to keep in each purged table. */
async function load(db: DataSource, now: Date, userId: string, ended: 'past' | 'future', count = EXPIRED) {
  // Past: out of every window (tokens expired, failed logins older than 900 s, sessions ended more
  // than the 3,600 s retention ago). Future: still live, to be moved to the past later.
  const offset = ended === 'past' ? '-2 hours' : '+2 hours';
  await db.query(
    `INSERT INTO revoked_tokens (jti, user_id, expires_at, revoked_at, reason)
     SELECT gen_random_uuid(), $2, $1::timestamptz + $3::interval - g * interval '1 ms', $1, 'logout' FROM generate_series(1, $4) g`,
    [now, userId, offset, count],
  );
  await db.query(
    `INSERT INTO login_failures (account_key, ip, failed_at)
     SELECT repeat('b', 64), '10.0.0.1', $1::timestamptz + $2::interval - g * interval '1 ms' FROM generate_series(1, $3) g`,
    [now, offset, count],
  );
  await db.query(
    `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, refresh_token_hash, refresh_expires_at)
     SELECT gen_random_uuid(), $2, $1::timestamptz - interval '3 days', $1::timestamptz - interval '3 days',
            $1::timestamptz + $3::interval - g * interval '1 ms', repeat('a', 64), $1::timestamptz + $3::interval - g * interval '1 ms'
       FROM generate_series(1, $4) g`,
    [now, userId, offset, count],
  );
}

async function loadLive(db: DataSource, now: Date, userId: string) {
  await db.query(
    `INSERT INTO revoked_tokens (jti, user_id, expires_at, revoked_at, reason)
     SELECT gen_random_uuid(), $2, $1::timestamptz + interval '10 minutes', $1, 'logout' FROM generate_series(1, $3)`,
    [now, userId, LIVE],
  );
  await db.query(
    `INSERT INTO login_failures (account_key, ip, failed_at)
     SELECT repeat('b', 64), '10.0.0.1', $1::timestamptz - interval '10 seconds' FROM generate_series(1, $2)`,
    [now, LIVE],
  );
  await db.query(
    `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, refresh_token_hash, refresh_expires_at)
     SELECT gen_random_uuid(), $2, $1, $1, $1::timestamptz + interval '30 days', repeat('a', 64), $1::timestamptz + interval '14 days'
       FROM generate_series(1, $3)`,
    [now, userId, LIVE],
  );
}

const analyze = (db: DataSource) => db.query(`ANALYZE revoked_tokens, login_failures, sessions`);

/** Ways for the statistics to be wrong when the purge runs. */
const LIES: Array<[string, (db: DataSource, now: Date, userId: string) => Promise<void>]> = [
  ['never analyzed, right after a bulk load', (db, now, userId) => load(db, now, userId, 'past')],
  [
    'analyzed while every row was still live, then all of them expired',
    async (db, now, userId) => {
      await load(db, now, userId, 'future');
      await analyze(db);
      await db.query(`UPDATE revoked_tokens SET expires_at = expires_at - interval '4 hours'`);
      await db.query(`UPDATE login_failures SET failed_at = failed_at - interval '4 hours'`);
      await db.query(
        `UPDATE sessions SET expires_at = expires_at - interval '4 hours', refresh_expires_at = refresh_expires_at - interval '4 hours'`,
      );
    },
  ],
  [
    'analyzed when the tables were nearly empty',
    async (db, now, userId) => {
      await load(db, now, userId, 'past', 5);
      await analyze(db);
      await load(db, now, userId, 'past', EXPIRED - 5);
    },
  ],
  [
    'pg_class says the tables hold a billion rows',
    async (db, now, userId) => {
      await load(db, now, userId, 'past');
      await analyze(db);
      await db.query(`UPDATE pg_class SET reltuples = 1e9 WHERE relname = ANY($1)`, [TABLES]);
    },
  ],
  [
    'pg_class says the tables hold one row',
    async (db, now, userId) => {
      await load(db, now, userId, 'past');
      await analyze(db);
      await db.query(`UPDATE pg_class SET reltuples = 1 WHERE relname = ANY($1)`, [TABLES]);
    },
  ],
];

describe('purge batches: plans that do not depend on the statistics', () => {
  const clock = new FakeClock(new Date('2026-11-23T12:00:00Z'));
  const opened: Array<{ app: INestApplication; database: TestDatabase }> = [];

  afterAll(async () => {
    for (const { app, database } of opened) {
      await app.close();
      await database.drop();
    }
  });

  async function start(): Promise<{ app: INestApplication; db: DataSource; userId: string }> {
    const database = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
        AuthModule.forRoot({
          secret: TEST_SECRET,
          purgeCron: false,
          purgeBatchSize: BATCH,
          purgeBatchPauseMs: 0,
          sessionRetention: 3_600,
        }),
      ],
    })
      .overrideProvider(AUTH_CLOCK)
      .useValue(clock)
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    opened.push({ app, database });
    const db = app.get(DataSource);
    // Nothing may correct the statistics behind the test's back.
    for (const table of TABLES) await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
    const [{ id: userId }] = await db.query(
      `INSERT INTO users (email, email_canonical, password_hash) VALUES ('plan@example.com', 'plan@example.com', 'x') RETURNING id`,
    );
    return { app, db, userId };
  }

  beforeAll(() => {
    // Sanity: the module's batch statements are the ones this file expects to see.
    expect(Object.values(PURGE_TARGETS).map((target) => target.table)).toEqual(expect.arrayContaining([...TABLES]));
  });

  it.each(LIES)('statistics %s: every batch reads the index up to its LIMIT and deletes by address', async (_, lie) => {
    const { app, db, userId } = await start();
    const now = clock.now();
    await lie(db, now, userId);
    await loadLive(db, now, userId);

    const purges = app.get(PurgeRepository);
    const recorded: Recorded[] = [];
    const withPurgeLock = purges.withPurgeLock.bind(purges);
    jest
      .spyOn(purges, 'withPurgeLock')
      .mockImplementation(((work: (runner: QueryRunner) => Promise<unknown>) =>
        withPurgeLock((runner) => work(recording(runner, recorded)))) as typeof purges.withPurgeLock);

    const result = await app.get(PurgeService).purgeExpired();

    expect(result).toMatchObject({ skipped: false, revokedTokens: EXPIRED, sessions: EXPIRED, loginFailures: EXPIRED });
    for (const table of TABLES) {
      expect({ table, left: (await db.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n }).toEqual({
        table,
        left: LIVE,
      });
    }
    for (const statement of recorded) expectBatchPlan(statement);
    // The plans seen are those of the purge itself: each table's rows went through them, in batches.
    const plans = recorded.map((statement) => nodes(statement.plan).map(({ node }) => node));
    for (const table of TABLES) {
      const deletes = plans.filter(
        (plan) => plan[0]['Node Type'] === 'ModifyTable' && plan.some((node) => node['Relation Name'] === table),
      );
      const reads = plans.filter((plan) =>
        plan.some((node) => node['Node Type'] === 'Index Scan' && node['Relation Name'] === table),
      );
      expect({ table, deletes: deletes.length >= EXPIRED / BATCH, reads: reads.length > 0 }).toEqual({
        table,
        deletes: true,
        reads: true,
      });
    }
  });
});
