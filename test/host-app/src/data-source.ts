import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { databaseOptions } from './database.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is not set');

/** For the TypeORM CLI: `typeorm migration:run -d dist/src/data-source.js`. */
export default new DataSource(databaseOptions(url));
