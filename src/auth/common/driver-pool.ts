import type pg from 'pg';
import type { DataSource } from 'typeorm';

/**
 * The pg pool under TypeORM's connection, for statements on the hot path, the bulk load and the
 * listener's heartbeat: straight on the driver, without TypeORM's per-query runner.
 */
export function driverPool(dataSource: DataSource): pg.Pool {
  return (dataSource.driver as unknown as { master: pg.Pool }).master;
}
