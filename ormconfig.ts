import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { AUTH_ENTITIES, AUTH_MIGRATIONS } from './src/auth/index.js';

/**
 * DataSource for the TypeORM CLI (`npm run migration:run`, `migration:revert`, `migration:generate`).
 * It reads DATABASE_URL; for the example app's embedded database that is
 * postgres://postgres:postgres@127.0.0.1:54329/auth while the app runs.
 */
const url = process.env.DATABASE_URL;
if (!url) {
  throw new Error('DATABASE_URL is not set: the migration commands need the database to migrate');
}

export default new DataSource({
  type: 'postgres',
  url,
  entities: AUTH_ENTITIES,
  migrations: AUTH_MIGRATIONS,
  synchronize: false,
  // The schema needs no extension (gen_random_uuid() is built in since PostgreSQL 13).
  installExtensions: false,
});
