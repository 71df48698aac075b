import type pg from 'pg';
import type { TransactionStatements } from '../common/driver-pool.js';

/**
 * Removing one of a user's ways to sign in (a passkey, a connected provider account) unless it is
 * the last: with no password, at least one other must stay.
 */
export type WayInRemoval = { outcome: 'removed' } | { outcome: 'last' } | { outcome: 'missing' };

/**
 * Runs `remove` (a DELETE of one way in, `RETURNING` it) only while another way in stays, inside
 * the caller's transaction. The user's row is locked first, in a statement of its own: the count
 * after it sees every removal that held the lock before (a statement's snapshot is taken when it
 * starts, so a count in the locking statement would be from before its wait, and two removals at
 * once could each leave the other as the last). `except` names the way being removed.
 */
export async function removeUnlessLastWayIn(
  client: pg.PoolClient,
  userId: string,
  except: { passkeyId?: string; identityId?: string },
  remove: () => Promise<boolean>,
  exists: () => Promise<boolean>,
): Promise<WayInRemoval> {
  const { rows } = await client.query<{ has_password: boolean }>(
    'SELECT password_hash IS NOT NULL AS has_password FROM users WHERE id = $1 FOR UPDATE',
    [userId],
  );
  if (!rows[0]) return { outcome: 'missing' };
  const { rows: counted } = await client.query<{ others: string }>(
    `SELECT (SELECT count(*) FROM passkeys WHERE user_id = $1 AND id IS DISTINCT FROM $2::uuid)
          + (SELECT count(*) FROM user_identities WHERE user_id = $1 AND id IS DISTINCT FROM $3::uuid) AS others`,
    [userId, except.passkeyId ?? null, except.identityId ?? null],
  );
  if (!rows[0].has_password && Number(counted[0].others) === 0) {
    return (await exists()) ? { outcome: 'last' } : { outcome: 'missing' };
  }
  return (await remove()) ? { outcome: 'removed' } : { outcome: 'missing' };
}

/**
 * Every passkey and connected provider account of the user, removed in the caller's transaction:
 * the ways in that whoever held a session could have added, gone when the account is taken back
 * (a password reset, "This wasn't me"). A provider account connected by whoever used the address
 * first would otherwise keep them in too. How many of each went.
 */
export async function removeAddedWaysIn(
  transaction: TransactionStatements,
  userId: string,
): Promise<{ passkeys: number; identities: number }> {
  const [, passkeys] = (await transaction.query('DELETE FROM passkeys WHERE user_id = $1', [userId])) as [
    unknown,
    number,
  ];
  const [, identities] = (await transaction.query('DELETE FROM user_identities WHERE user_id = $1', [userId])) as [
    unknown,
    number,
  ];
  return { passkeys, identities };
}
