import type { DataSourceOptions } from 'typeorm';
import { AUTH_ENTITIES, AUTH_MIGRATIONS } from 'nest-jwt-revocation';
import { CreateNotes1764400000000 } from '../migrations/1764400000000-CreateNotes.js';
import { Note } from './notes/note.entity.js';

/** One description of the database for the app and for the TypeORM CLI (data-source.ts). */
export function databaseOptions(url: string): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [...AUTH_ENTITIES, Note],
    migrations: [...AUTH_MIGRATIONS, CreateNotes1764400000000],
    synchronize: false,
    // Primary keys default to gen_random_uuid(), built into PostgreSQL 13+: no extension to install.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    // A database that stops answering becomes a quick 503, not a hang.
    connectTimeoutMS: 5_000,
  };
}
