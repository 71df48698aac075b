import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool, type TransactionStatements } from '../common/driver-pool.js';
import { ADMIN_ROLE } from './role-names.js';

/** users.roles: read, and changed inside the transaction that ends the user's sessions. */
@Injectable()
export class RolesRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** The user's roles; null when there is no such user. */
  async rolesOf(userId: string): Promise<string[] | null> {
    const { rows } = await driverPool(this.dataSource).query<{ roles: string[] }>(
      'SELECT roles FROM users WHERE id = $1',
      [userId],
    );
    return rows[0]?.roles ?? null;
  }

  /** The user's roles as the transaction sees them (its row is locked by the caller). */
  async rolesIn(transaction: TransactionStatements, userId: string): Promise<string[] | null> {
    const rows: Array<{ roles: string[] }> = await transaction.query('SELECT roles FROM users WHERE id = $1', [userId]);
    return rows[0]?.roles ?? null;
  }

  async setIn(transaction: TransactionStatements, userId: string, roles: readonly string[]): Promise<void> {
    await transaction.query('UPDATE users SET roles = $2::text[] WHERE id = $1', [userId, roles]);
  }

  /**
   * Takes the turn (a transaction-scoped advisory lock) of changes that may take the last admin
   * away (an admin role removed, an admin deleted), then counts the admins other than `userId`:
   * two such changes at once (two admins removing each other) are judged one after the other, the
   * second seeing the first committed.
   */
  async otherAdminsIn(transaction: TransactionStatements, userId: string): Promise<number> {
    await transaction.query(`SELECT pg_advisory_xact_lock(hashtextextended('auth-admins', 0))`);
    const rows: Array<{ n: number }> = await transaction.query(
      `SELECT count(*)::int AS n FROM users WHERE $2 = ANY(roles) AND id <> $1`,
      [userId, ADMIN_ROLE],
    );
    return rows[0].n;
  }
}
