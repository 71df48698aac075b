import type pg from 'pg';
import type { DataSource } from 'typeorm';

/**
 * The pg pool under TypeORM's connection, for statements on the hot path, the bulk load and the
 * listener's heartbeat: straight on the driver, without TypeORM's per-query runner.
 */
export function driverPool(dataSource: DataSource): pg.Pool {
  return (dataSource.driver as unknown as { master: pg.Pool }).master;
}

/**
 * What a repository needs of a transaction to run statements in it: TypeORM's EntityManager has
 * it, and so has driverStatements() over a client of the driver's pool. Results as TypeORM's
 * `query` gives them: the rows, or for UPDATE and DELETE `[rows, rowCount]`.
 */
export interface TransactionStatements {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as TypeORM's EntityManager.query
  query<T = any>(query: string, parameters?: unknown[]): Promise<T>;
}

/** A pool client as TransactionStatements, with TypeORM's result shapes (see there). */
export function driverStatements(client: pg.PoolClient): TransactionStatements {
  return {
    query: async <T>(query: string, parameters?: unknown[]) => {
      const result = await client.query(query, parameters);
      return (
        result.command === 'UPDATE' || result.command === 'DELETE' ? [result.rows, result.rowCount] : result.rows
      ) as T;
    },
  };
}

/**
 * Runs `work` in a transaction on one client of the driver's pool: BEGIN, the work, COMMIT, or
 * ROLLBACK when it throws. A client whose connection failed is discarded, not handed back. While
 * the client is out, its connection errors are caught here: pg emits them on the client, and the
 * pool listens only to idle clients, so a connection lost mid-transaction (a restart, a failover,
 * pg_terminate_backend) would otherwise be an unhandled 'error' event that ends the process; the
 * statement under way fails instead (503, like any outage).
 */
export async function inDriverTransaction<T>(
  dataSource: DataSource,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await driverPool(dataSource).connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken = error);
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (!broken) await client.query('ROLLBACK').catch((rollbackFailed: Error) => (broken = rollbackFailed));
    throw error;
  } finally {
    // A broken client keeps the listener: it is discarded, and may still report its end.
    if (!broken) client.off('error', onError);
    client.release(broken);
  }
}
