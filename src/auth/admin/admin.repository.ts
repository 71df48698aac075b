import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool, type TransactionStatements } from '../common/driver-pool.js';

/** A user as the admin API lists them. */
export interface AdminUserRow {
  id: string;
  email: string;
  emailCanonical: string;
  emailVerifiedAt: Date | null;
  roles: string[];
  suspendedUntil: Date | null;
  createdAt: Date;
}

/** What a user has to sign in with, and beyond. */
export interface UserFactors {
  password: boolean;
  totp: boolean;
  passkeys: number;
  identities: number;
}

const USER_COLUMNS = `u.id::text AS id, u.email, u.email_canonical AS "emailCanonical",
  u.email_verified_at AS "emailVerifiedAt", u.roles, u.suspended_until AS "suspendedUntil", u.created_at AS "createdAt"`;

/** The admin API's reads of users, and the lifting of a ban. */
@Injectable()
export class AdminRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Users whose canonical address starts with `prefix`, in address order, after `after` (the last
   * of the previous page). `starts_with` compares code points whatever the collation (a range on
   * the unique index would follow the collation's order, which is not a prefix order).
   */
  async search(prefix: string, after: { email: string; id: string } | null, limit: number): Promise<AdminUserRow[]> {
    const { rows } = await driverPool(this.dataSource).query<AdminUserRow>(
      `SELECT ${USER_COLUMNS} FROM users u
        WHERE starts_with(u.email_canonical, $1)
          AND ($2::text IS NULL OR (u.email_canonical COLLATE "C", u.id) > ($2::text COLLATE "C", $3::uuid))
        ORDER BY u.email_canonical COLLATE "C", u.id
        LIMIT $4`,
      [prefix, after?.email ?? null, after?.id ?? null, limit],
    );
    return rows;
  }

  async user(id: string): Promise<(AdminUserRow & { factors: UserFactors }) | null> {
    const { rows } = await driverPool(this.dataSource).query<
      AdminUserRow & { password: boolean; totp: boolean; passkeys: number; identities: number }
    >(
      `SELECT ${USER_COLUMNS}, u.password_hash IS NOT NULL AS password,
              EXISTS (SELECT 1 FROM mfa_totp t WHERE t.user_id = u.id AND t.enabled_at IS NOT NULL) AS totp,
              (SELECT count(*)::int FROM passkeys p WHERE p.user_id = u.id) AS passkeys,
              (SELECT count(*)::int FROM user_identities i WHERE i.user_id = u.id) AS identities
         FROM users u WHERE u.id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) return null;
    const { password, totp, passkeys, identities, ...user } = row;
    return { ...user, factors: { password, totp, passkeys, identities } };
  }

  /** Lifts a suspension still running at `now`, in the caller's transaction; false when there was none (or no user). */
  async liftBanIn(transaction: TransactionStatements, userId: string, now: Date): Promise<boolean> {
    const [rows] = (await transaction.query(
      `UPDATE users SET suspended_until = NULL, updated_at = $2 WHERE id = $1 AND suspended_until > $2 RETURNING id`,
      [userId, now],
    )) as [unknown[], number];
    return rows.length === 1;
  }

  /** Runs `work` in a transaction of its own. */
  transaction<T>(work: (transaction: TransactionStatements) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => work(manager));
  }

  async exists(userId: string): Promise<boolean> {
    const { rowCount } = await driverPool(this.dataSource).query('SELECT 1 FROM users WHERE id = $1', [userId]);
    return rowCount === 1;
  }
}
