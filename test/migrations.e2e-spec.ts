import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { AUTH_ENTITIES, AUTH_MIGRATIONS } from '../src/auth/index.js';
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

  const ALL_TABLES = ['deleted_users', 'login_failures', 'rate_limit_hits', 'revoked_tokens', 'sessions', 'users'];

  it('creates the tables, and a second run is a no-op', async () => {
    expect(await tables()).toEqual([]);
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
        'users_email_lower_key',
        'sessions_user_id_idx',
        'revoked_tokens_expires_at_idx',
        'revoked_tokens_pkey',
      ]),
    );
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
