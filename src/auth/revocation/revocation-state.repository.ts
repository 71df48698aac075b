import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { driverPool } from '../common/driver-pool.js';
import { TOKEN_PAGE_RECORD_LENGTH } from './revocation-store.js';
import type { RevocationEvent, RevocationHint } from './revocation-events.js';

export interface RevocationState {
  tokenRevoked: boolean;
  sessionRevokedAt: Date | null;
  sessionExpiresAt: Date;
  tokensValidAfter: Date | null;
}

/** Receives the revocation state as loadActive reads it. */
export interface RevocationLoadTarget {
  apply(event: RevocationEvent): void;
  /** Denied tokens, a page at a time, in the format of TOKEN_PAGE_RECORD_LENGTH (RevocationStore.applyTokenPage). */
  applyTokenPage(page: string): void;
}

/** The jti (UUID text) of the `index`-th record of a token page. */
function uuidOfRecord(page: string, index: number): string {
  const hex = page.slice(index * TOKEN_PAGE_RECORD_LENGTH, index * TOKEN_PAGE_RECORD_LENGTH + 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Reads of the revocation state, straight on the driver's pool: the strict check of a request, the
 * confirmation of a notification, the load at start and after a reconnection. The writes are
 * RevocationRepository's.
 */
@Injectable()
export class RevocationStateRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Everything that can revoke an access token, in one round trip: the strict check of every
   * request on strict routes. Null when the session is gone. Runs straight on the driver's pool,
   * without TypeORM's per-query runner, as an unnamed statement: a named (prepared) one lives on
   * one server connection, and behind a transaction-mode pooler the next check of the same client
   * may run on another, where it does not exist (500 on every such check).
   */
  async findState(jti: string, sessionId: string, userId: string): Promise<RevocationState | null> {
    const { rows } = await this.pool().query<{
      token_revoked: boolean;
      revoked_at: Date | null;
      expires_at: Date;
      tokens_valid_after: Date | null;
    }>({
      text: `SELECT EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = $1) AS token_revoked,
                    s.revoked_at, s.expires_at, u.tokens_valid_after
               FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id = $2 AND s.user_id = $3`,
      values: [jti, sessionId, userId],
    });
    if (rows.length === 0) return null;
    const [row] = rows;
    return {
      tokenRevoked: row.token_revoked,
      sessionRevokedAt: row.revoked_at,
      sessionExpiresAt: row.expires_at,
      tokensValidAfter: row.tokens_valid_after,
    };
  }

  /**
   * What the database says about what a notification names: the committed revocations only,
   * whatever the payload claimed. Empty when nothing there is revoked.
   */
  async confirm(hint: Exclude<RevocationHint, { kind: 'heartbeat' | 'keys' }>): Promise<RevocationEvent[]> {
    const pool = this.pool();
    switch (hint.kind) {
      case 'token': {
        const { rows } = await pool.query<[string, number]>({
          text: `SELECT jti::text, floor(extract(epoch FROM expires_at) * 1000)::float8 FROM revoked_tokens WHERE jti = $1`,
          values: [hint.jti],
          rowMode: 'array',
        });
        return rows.map(([jti, expiresAt]) => ({ kind: 'token', jti, expiresAt }));
      }
      case 'sessions': {
        const { rows } = await pool.query<[string, number]>({
          text: `SELECT id::text, floor(extract(epoch FROM revoked_at) * 1000)::float8
                   FROM sessions WHERE id = ANY($1::uuid[]) AND revoked_at IS NOT NULL`,
          values: [hint.ids],
          rowMode: 'array',
        });
        return rows.map(([id, revokedAt]) => ({ kind: 'sessions', ids: [id], revokedAt }));
      }
      case 'user': {
        const { rows } = await pool.query<[number]>({
          text: `SELECT floor(extract(epoch FROM tokens_valid_after) * 1000)::float8
                   FROM users WHERE id = $1 AND tokens_valid_after IS NOT NULL`,
          values: [hint.userId],
          rowMode: 'array',
        });
        return rows.map(([validAfter]) => ({ kind: 'user', userId: hint.userId, validAfter }));
      }
      case 'userDeleted': {
        const { rows } = await pool.query<[number]>({
          text: `SELECT floor(extract(epoch FROM deleted_at) * 1000)::float8 FROM deleted_users WHERE user_id = $1`,
          values: [hint.userId],
          rowMode: 'array',
        });
        return rows.map(([deletedAt]) => ({ kind: 'userDeleted', userId: hint.userId, deletedAt }));
      }
    }
  }

  /**
   * Sessions revoked, cut-offs set and users deleted after `since` (or in the database's last
   * `margin`, whichever reaches back further: revocations are stamped on the app's clock, cut-offs
   * on the database's). Three index range scans over the last seconds' revocations: how a listener
   * behind a flood of notifications keeps up without waiting to read through it. Tokens denied one
   * by one are not read: each is denied with its session (logout), which this reads.
   */
  changedSince(since: Date, marginSeconds: number): Promise<RevocationEvent[]> {
    return revocationsAfter(this.pool(), `least($1::timestamptz, now() - make_interval(secs => $2))`, [
      since,
      marginSeconds,
    ]);
  }

  /**
   * Reads everything that can still revoke an access token: denied jtis whose tokens expire after
   * `now`, sessions revoked after `horizon`, cut-offs and deletions after `horizon`, all in one
   * snapshot (REPEATABLE READ). The denylist may hold millions of rows: it is read in pages of
   * `pageSize` in primary-key order (keyset pagination, an index range scan per page whatever the
   * statistics say), each page as ONE string of fixed-width records (TOKEN_PAGE_RECORD_LENGTH hex
   * characters: the jti's 16 bytes and the expiry minute). A row per object would leave a million
   * short-lived arrays and strings behind, and the process would keep the memory they took.
   */
  async loadActive(now: Date, horizon: Date, target: RevocationLoadTarget, pageSize = 10_000): Promise<void> {
    const client = await this.pool().connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // A load that cannot finish (a lock held by a migration, a starved server) must fail, so that
      // the instance tries again, rather than hang with every check going to the database.
      await client.query(
        "SET LOCAL statement_timeout = '60s'; SET LOCAL lock_timeout = '10s'; " +
          'SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off',
      );
      const record = `encode(uuid_send(jti), 'hex') || lpad(to_hex(ceil(extract(epoch FROM expires_at) / 60)::int), 8, '0')`;
      let last: string | null = null;
      for (;;) {
        const { rows } = await client.query<{ page: string | null; n: number }>(
          `SELECT string_agg(${record}, '' ORDER BY jti) AS page, count(*)::int AS n
             FROM (SELECT jti, expires_at FROM revoked_tokens
                    WHERE expires_at > $1 ${last === null ? '' : 'AND jti > $3::uuid'}
                    ORDER BY jti LIMIT $2) page`,
          last === null ? [now, pageSize] : [now, pageSize, last],
        );
        const [{ page, n }] = rows;
        if (page) target.applyTokenPage(page);
        if (!page || n < pageSize) break;
        last = uuidOfRecord(page, n - 1);
      }
      // The small reads below choose their own plans.
      await client.query('RESET enable_seqscan; RESET enable_bitmapscan; RESET enable_sort');
      for (const event of await revocationsAfter(client, '$1::timestamptz', [horizon])) target.apply(event);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  private pool(): pg.Pool {
    return driverPool(this.dataSource);
  }
}

/**
 * Sessions revoked, cut-offs set and users deleted after the instant `after` (an SQL expression
 * over `values`): the part of the revocation state that a start loads within its horizon and a
 * listener behind a backlog reads again for the last seconds. Three index range scans.
 */
async function revocationsAfter(
  db: pg.Pool | pg.PoolClient,
  after: string,
  values: unknown[],
): Promise<RevocationEvent[]> {
  const read = (text: string) => db.query<[string, number]>({ text, values, rowMode: 'array' });
  // One after the other: on a transaction's client, pg queues statements but warns of overlapping ones.
  const sessions = await read(
    `SELECT id::text, floor(extract(epoch FROM revoked_at) * 1000)::float8 FROM sessions WHERE revoked_at > ${after}`,
  );
  const users = await read(
    `SELECT id::text, floor(extract(epoch FROM tokens_valid_after) * 1000)::float8 FROM users WHERE tokens_valid_after > ${after}`,
  );
  const deleted = await read(
    `SELECT user_id::text, floor(extract(epoch FROM deleted_at) * 1000)::float8 FROM deleted_users WHERE deleted_at > ${after}`,
  );
  return [
    ...sessions.rows.map(([id, revokedAt]): RevocationEvent => ({ kind: 'sessions', ids: [id], revokedAt })),
    ...users.rows.map(([userId, validAfter]): RevocationEvent => ({ kind: 'user', userId, validAfter })),
    ...deleted.rows.map(([userId, deletedAt]): RevocationEvent => ({ kind: 'userDeleted', userId, deletedAt })),
  ];
}
