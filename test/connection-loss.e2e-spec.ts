import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type pg from 'pg';
import { driverPool } from '../src/auth/common/driver-pool.js';
import { eventually } from './support/latch.js';
import { createTestApp, PASSWORD, type TestAppWithDatabase, uniqueEmail } from './support/test-app.js';

/**
 * A connection lost in the middle of a login's session transaction (a restart, a failover,
 * pg_terminate_backend): pg reports it as an 'error' event on the client, which the pool does not
 * listen to while the client is out. The login must fail as an outage (503), and the process
 * (here: the test's own, which an unhandled 'error' event would end) must go on serving.
 */
describe('a connection lost during a login', () => {
  let t: TestAppWithDatabase;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers 503, and the next login works', async () => {
    const email = uniqueEmail('lost');
    await t.http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
    const pool = driverPool(t.dataSource);
    const connect = pool.connect.bind(pool) as (callback?: unknown) => Promise<pg.PoolClient>;
    let terminated = false;
    // The session's client: its backend is terminated just before the statement that locks the
    // user's row, inside the open transaction, and the statement is sent once pg has seen it go.
    const spy = jest.spyOn(pool, 'connect').mockImplementation(((callback?: unknown) => {
      // pool.query connects with a callback: left alone.
      if (callback) return connect(callback);
      return sessionClient();
    }) as never);
    const sessionClient = async () => {
      const client = await connect();
      const query = client.query.bind(client) as (text: string, values?: unknown[]) => Promise<unknown>;
      client.query = (async (text: string, values?: unknown[]) => {
        if (!terminated && typeof text === 'string' && text.includes('FOR SHARE')) {
          terminated = true;
          const internals = client as unknown as { processID: number; _queryable: boolean };
          await t.dataSource.query('SELECT pg_terminate_backend($1)', [internals.processID]);
          // No listener of the test's own: pg's 'error' event meets only the module's.
          await eventually(() => internals._queryable === false, 5_000);
        }
        return query(text, values);
      }) as typeof client.query;
      return client;
    };
    try {
      const response = await t.http.post('/auth/login').send({ email, password: PASSWORD });
      expect(terminated).toBe(true);
      expect(response.status).toBe(503);
      expect(response.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    } finally {
      spy.mockRestore();
    }
    await t.http.post('/auth/login').send({ email, password: PASSWORD }).expect(200);
  });
});
