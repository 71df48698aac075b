import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AUTH_ENTITIES, AUTH_MIGRATIONS, AuthModule } from '../src/auth/index.js';
import { TEST_SECRET } from './support/test-app.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';

describe('migrations', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    dataSource = new DataSource({
      type: 'postgres',
      url: database.url,
      entities: AUTH_ENTITIES,
      migrations: AUTH_MIGRATIONS,
      installExtensions: false,
      // TypeORM's defaults, as a host copies them: no migrationsTransactionMode ('all').
    });
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  const tables = async () =>
    (
      await dataSource.query(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations' ORDER BY 1`,
      )
    ).map((row: { table_name: string }) => row.table_name);

  const ALL_TABLES = [
    'account_tokens',
    'auth_events',
    'deleted_users',
    'login_failures',
    'mail_outbox',
    'mfa_challenges',
    'mfa_recovery_codes',
    'mfa_totp',
    'oidc_login_codes',
    'oidc_transactions',
    'passkeys',
    'rate_limit_hits',
    'revoked_tokens',
    'sessions',
    'signing_keys',
    'user_identities',
    'users',
    'webauthn_challenges',
  ];
  /** AddPurgeIndexes and the migrations after it, which these tests revert to build the index again. */
  const FROM_PURGE_INDEX = AUTH_MIGRATIONS.slice(
    AUTH_MIGRATIONS.findIndex((migration) => migration.name === 'AddPurgeIndexes1764300000000'),
  ).map((migration) => migration.name);
  /** Reverts down to and including AddPurgeIndexes, outside a transaction (the CONCURRENTLY path of its down()). */
  const revertPurgeIndex = async () => {
    for (let step = 0; step < FROM_PURGE_INDEX.length; step += 1) {
      await dataSource.undoLastMigration({ transaction: 'none' });
    }
  };

  it('creates the tables under TypeORM’s default transaction mode, and a second run is a no-op', async () => {
    expect(await tables()).toEqual([]);
    expect(dataSource.options.migrationsTransactionMode).toBeUndefined();
    expect((await dataSource.runMigrations()).map((migration) => migration.name)).toEqual(
      AUTH_MIGRATIONS.map((migration) => migration.name),
    );
    expect(await tables()).toEqual(ALL_TABLES);
    expect(await dataSource.runMigrations()).toEqual([]);
  });

  it('leaves nothing for migration:generate to do: the schema matches the entities', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((query) => query.query)).toEqual([]);
  });

  it('has the indexes the queries rely on', async () => {
    const indexes = (
      await dataSource.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`)
    ).map((row: { indexname: string }) => row.indexname);
    expect(indexes).toEqual(
      expect.arrayContaining([
        'users_email_canonical_key',
        'sessions_user_id_idx',
        'revoked_tokens_expires_at_idx',
        'revoked_tokens_pkey',
        // The purge reads these in order (src/auth/purge/purge.repository.ts).
        'login_failures_failed_at_idx',
        'sessions_ended_at_idx',
      ]),
    );
  });

  describe('the purge index on sessions (AddPurgeIndexes)', () => {
    const client = () => new pg.Client({ connectionString: database.url });
    const validity = async () =>
      (
        await dataSource.query(
          `SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass('sessions_ended_at_idx')`,
        )
      ).map((row: { valid: boolean }) => row.valid);
    const insertSession = (db: { query: (sql: string, params: unknown[]) => Promise<unknown> }, userId: string) =>
      db.query(
        `INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, refresh_token_hash, refresh_expires_at)
         VALUES (gen_random_uuid(), $1, now(), now(), now(), repeat('a', 64), now())`,
        [userId],
      );
    /** A user, on the schema of the moment (reverted below CanonicalEmails, users has no email_canonical). */
    const insertUser = async (email: string): Promise<string> => {
      const [{ canonical }] = await dataSource.query(
        `SELECT count(*) > 0 AS canonical FROM information_schema.columns
          WHERE table_name = 'users' AND column_name = 'email_canonical'`,
      );
      const sql = canonical
        ? `INSERT INTO users (email, email_canonical, password_hash) VALUES ($1, $1, 'x') RETURNING id`
        : `INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id`;
      return (await dataSource.query(sql, [email]))[0].id;
    };

    it('is built without blocking writes to sessions when the migrations run outside a transaction (-t none)', async () => {
      // Revert it outside a transaction (the CONCURRENTLY path of down()), to build it again.
      await revertPurgeIndex();
      expect(await validity()).toEqual([]);
      const userId = await insertUser('index@example.com');
      const open = client();
      const writer = client();
      await open.connect();
      await writer.connect();
      try {
        // A write in progress: any index build has to wait for it to end.
        await open.query('BEGIN');
        await insertSession(open, userId);
        const building = dataSource.runMigrations({ transaction: 'none' });
        for (let waited = 0; ; waited += 20) {
          const [{ n }] = await dataSource.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE query LIKE '%CREATE INDEX%sessions_ended_at_idx%' AND wait_event_type = 'Lock'`,
          );
          if (n > 0) break;
          if (waited > 10_000) throw new Error('the index build never waited for the open write');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        // Meanwhile a new write goes through. Behind a plain CREATE INDEX (its SHARE lock requested)
        // it would queue until the build ends.
        await writer.query(`SET lock_timeout = '2s'`);
        await insertSession(writer, userId);
        await open.query('COMMIT');
        expect((await building).map((migration) => migration.name)).toEqual(FROM_PURGE_INDEX);
        expect(await validity()).toEqual([true]);
      } finally {
        await open.end();
        await writer.end();
        await dataSource.query('DELETE FROM users WHERE id = $1', [userId]);
      }
    });

    it('built beforehand (docs/operations.md), is only checked under the default mode: no lock on sessions', async () => {
      await revertPurgeIndex();
      const userId = await insertUser('prebuilt@example.com');
      const open = client();
      await open.connect();
      // The migrations of this data source give up on any lock they would wait for. They stop
      // before AddSecondFactor, which adds two columns to sessions: an instant's ACCESS EXCLUSIVE
      // lock, which does wait for the write (the upgrade notes in docs/operations.md say so).
      const beforeSecondFactor = AUTH_MIGRATIONS.findIndex(
        (migration) => migration.name === 'AddSecondFactor1765400000000',
      );
      const impatient = new DataSource({
        ...(dataSource.options as object),
        migrations: AUTH_MIGRATIONS.slice(0, beforeSecondFactor),
        extra: { options: '-c lock_timeout=1s' },
      } as unknown as typeof dataSource.options);
      await impatient.initialize();
      try {
        // The statement operations.md gives, run by hand before the upgrade.
        const documented = readFileSync(join(import.meta.dirname, '../docs/operations.md'), 'utf8').match(
          /CREATE INDEX CONCURRENTLY IF NOT EXISTS "sessions_ended_at_idx"[^;]*;/,
        );
        expect(documented).not.toBeNull();
        await dataSource.query((documented as RegExpMatchArray)[0]);
        expect(await validity()).toEqual([true]);
        // A write to sessions in progress (an update: no lock on users, which later migrations
        // alter): a CREATE INDEX on sessions, even IF NOT EXISTS, would wait for it and time out.
        await insertSession(dataSource, userId);
        await open.query('BEGIN');
        await open.query('UPDATE sessions SET last_used_at = now() WHERE user_id = $1', [userId]);
        expect((await impatient.runMigrations()).map((migration) => migration.name)).toEqual(
          FROM_PURGE_INDEX.filter(
            (name) => AUTH_MIGRATIONS.findIndex((migration) => migration.name === name) < beforeSecondFactor,
          ),
        );
        await open.query('COMMIT');
        await dataSource.runMigrations();
        expect(await validity()).toEqual([true]);
      } finally {
        await open.end();
        await impatient.destroy();
        await dataSource.query('DELETE FROM users WHERE id = $1', [userId]);
      }
    });

    it('refuses an INVALID index left by a failed concurrent build, and builds it once that is dropped', async () => {
      await revertPurgeIndex();
      const userId = await insertUser('invalid@example.com');
      try {
        await insertSession(dataSource, userId);
        await insertSession(dataSource, userId);
        // A concurrent build that fails (here on duplicates) leaves its index behind, INVALID.
        await expect(
          dataSource.query(`CREATE UNIQUE INDEX CONCURRENTLY "sessions_ended_at_idx" ON "sessions" ("user_id")`),
        ).rejects.toThrow(/could not create unique index/);
        expect(await validity()).toEqual([false]);

        const log = jest.spyOn(console, 'log').mockImplementation(() => {}); // TypeORM logs the failure too
        try {
          await expect(dataSource.runMigrations()).rejects.toThrow(/INVALID.*DROP INDEX CONCURRENTLY/);
        } finally {
          log.mockRestore();
        }
        await dataSource.query(`DROP INDEX CONCURRENTLY "sessions_ended_at_idx"`);
        expect((await dataSource.runMigrations()).map((migration) => migration.name)).toEqual(FROM_PURGE_INDEX);
        expect(await validity()).toEqual([true]);
      } finally {
        await dataSource.query('DELETE FROM users WHERE id = $1', [userId]);
      }
    });
  });

  it('keeps AddPasskeys while accounts without a password exist, saying why', async () => {
    const passkeys = AUTH_MIGRATIONS.findIndex((migration) => migration.name === 'AddPasskeys1765500000000');
    for (let step = AUTH_MIGRATIONS.length - 1; step > passkeys; step -= 1) await dataSource.undoLastMigration();
    const [{ id }] = (await dataSource.query(
      `INSERT INTO users (email, email_canonical, password_hash) VALUES ('nopassword@example.com', 'nopassword@example.com', NULL)
       RETURNING id::text AS id`,
    )) as Array<{ id: string }>;
    await expect(dataSource.undoLastMigration()).rejects.toThrow(
      '1 accounts have no password: give each one (a password reset) or delete them before reverting AddPasskeys',
    );
    expect(await tables()).toEqual(
      ALL_TABLES.filter(
        (table) => !['auth_events', 'oidc_login_codes', 'oidc_transactions', 'user_identities'].includes(table),
      ),
    );
    await dataSource.query('DELETE FROM users WHERE id = $1', [id]);
    await dataSource.runMigrations();
  });

  it('reverts cleanly, one migration at a time, and migrates again after', async () => {
    const seen: string[][] = [];
    for (let remaining = AUTH_MIGRATIONS.length; remaining > 0; remaining -= 1) {
      await dataSource.undoLastMigration();
      seen.push(await tables());
    }
    // Tables only ever go away, the first migration's last.
    expect(seen).toContainEqual(['login_failures', 'revoked_tokens', 'sessions', 'users']);
    expect(seen).toContainEqual(['revoked_tokens', 'sessions', 'users']);
    expect(seen.at(-1)).toEqual([]);
    await dataSource.runMigrations();
    expect(await tables()).toEqual(ALL_TABLES);
  });
});

describe('canonical email addresses (CanonicalEmails)', () => {
  const CANONICAL = AUTH_MIGRATIONS.findIndex((migration) => migration.name === 'CanonicalEmails1765000000000');
  let database: TestDatabase;
  let dataSource: DataSource;
  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false });
    // The schema as it was before: unique on lower(email).
    const before = new DataSource({
      type: 'postgres',
      url: database.url,
      migrations: AUTH_MIGRATIONS.slice(0, CANONICAL),
    });
    await before.initialize();
    await before.runMigrations();
    await before.destroy();
    dataSource = new DataSource({
      type: 'postgres',
      url: database.url,
      entities: AUTH_ENTITIES,
      migrations: AUTH_MIGRATIONS,
    });
    await dataSource.initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  const insertUser = async (email: string, createdAt: string): Promise<string> =>
    (
      await dataSource.query(
        `INSERT INTO users (email, password_hash, created_at) VALUES ($1, 'x', $2) RETURNING id::text AS id`,
        [email, createdAt],
      )
    )[0].id;
  const canonicalColumn = async () =>
    (
      await dataSource.query(
        `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'email_canonical'`,
      )
    )[0].n;

  it('reports accounts that one address in two spellings would merge, merges nothing, and migrates once they are resolved', async () => {
    // Distinct under lower(), one address once canonical: é composed and decomposed, and an IDN
    // domain in both forms.
    const older = await insertUser('Caf\u00e9@Example.com', '2025-01-01T00:00:00Z');
    const younger = await insertUser('cafe\u0301@example.com', '2025-02-01T00:00:00Z');
    const idn = await insertUser('ada@b\u00fccher.example', '2025-01-01T00:00:00Z');
    const idnAscii = await insertUser('Ada@xn--bcher-kva.example', '2025-03-01T00:00:00Z');
    const plain = await insertUser('  Plain@Example.COM', '2025-01-01T00:00:00Z');

    const failure = await dataSource.runMigrations().then(
      () => null,
      (error: Error) => error.message,
    );
    expect(failure).toContain('2 group(s)');
    expect(failure).toContain(`${older}, ${younger}`);
    expect(failure).toContain(`${idn}, ${idnAscii}`);
    expect(failure).not.toContain(plain);
    // Never an address in the report (it goes to logs): ids only.
    expect(failure).not.toMatch(/example/i);
    // Rolled back: nothing changed, every account still there.
    expect(await canonicalColumn()).toBe(0);
    expect((await dataSource.query('SELECT count(*)::int AS n FROM users'))[0].n).toBe(5);

    // The operator resolves each group (here: the younger accounts go), then migrates.
    await dataSource.query('DELETE FROM users WHERE id = ANY($1::uuid[])', [[younger, idnAscii]]);
    expect((await dataSource.runMigrations()).map((migration) => migration.name)).toEqual(
      AUTH_MIGRATIONS.slice(CANONICAL).map((migration) => migration.name),
    );
    const rows = await dataSource.query(
      'SELECT id::text AS id, email, email_canonical FROM users ORDER BY email_canonical COLLATE "C"',
    );
    expect(rows).toEqual([
      { id: idn, email: 'ada@b\u00fccher.example', email_canonical: 'ada@xn--bcher-kva.example' },
      { id: older, email: 'Caf\u00e9@Example.com', email_canonical: 'caf\u00e9@example.com' },
      { id: plain, email: '  Plain@Example.COM', email_canonical: 'plain@example.com' },
    ]);
    // The canonical form is unique; lower(email) no longer decides anything.
    await expect(
      dataSource.query(
        `INSERT INTO users (email, email_canonical, password_hash) VALUES ('x', 'caf\u00e9@example.com', 'x')`,
      ),
    ).rejects.toThrow(/users_email_canonical_key/);
    const indexes = (await dataSource.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'users'`)).map(
      (row: { indexname: string }) => row.indexname,
    );
    expect(indexes).toContain('users_email_canonical_key');
    expect(indexes).not.toContain('users_email_lower_key');
  });
});

describe('a Nest app with TypeORM’s defaults and migrationsRun', () => {
  it('migrates a new database at start, AuthModule beside it', async () => {
    const database = await createTestDatabase({ migrated: false });
    const app = await NestFactory.createApplicationContext(
      {
        module: class HostModule {},
        imports: [
          TypeOrmModule.forRoot({
            type: 'postgres',
            url: database.url,
            entities: AUTH_ENTITIES,
            migrations: AUTH_MIGRATIONS,
            migrationsRun: true,
            retryAttempts: 0,
          }),
          AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: false }),
        ],
      },
      { logger: false },
    );
    try {
      const applied = (await app.get(DataSource).query('SELECT name FROM migrations ORDER BY id')) as Array<{
        name: string;
      }>;
      expect(applied.map((row) => row.name)).toEqual(AUTH_MIGRATIONS.map((migration) => migration.name));
    } finally {
      await app.close();
      await database.drop();
    }
  });
});
