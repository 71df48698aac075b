import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { DEFAULTS } from '../auth.constants.js';
import {
  driverPool,
  driverStatements,
  inDriverTransaction,
  type TransactionStatements,
} from '../common/driver-pool.js';

/** A user's authenticator app as stored (the secret still encrypted). */
export interface StoredTotp {
  secretEncrypted: string;
  enabled: boolean;
  /** The time step of the last code accepted; null before the first. */
  lastUsedStep: number | null;
}

/** The second step of a sign-in, as its row holds it, with what the user's row says now. */
export interface PendingChallenge {
  userId: string;
  accountKey: string;
  passwordFingerprint: string;
  deviceName: string | null;
  failedAttempts: number;
  /** The user's password hash now, null without one (the challenge is void when its fingerprint no longer matches). */
  passwordHash: string | null;
  email: string;
  emailVerifiedAt: Date | null;
  firstFactor: string[];
}

export interface NewChallenge {
  tokenHash: string;
  userId: string;
  accountKey: string;
  passwordFingerprint: string;
  deviceName: string | null;
  now: Date;
  expiresAt: Date;
  firstFactor: readonly string[];
}

/**
 * The statements of one transaction on the second factor: the rows they read are locked until it
 * ends, so that two uses of one code, one recovery code or one mfaToken cannot both succeed.
 */
export class MfaTransaction {
  constructor(private readonly client: pg.PoolClient) {}

  /** The transaction's connection, for other statements of the same change (its security events). */
  get statements(): TransactionStatements {
    return driverStatements(this.client);
  }

  /** The user's authenticator app, locked (FOR UPDATE) until the transaction ends. */
  async lockTotp(userId: string): Promise<StoredTotp | null> {
    const { rows } = await this.client.query<{
      secret_encrypted: string;
      enabled_at: Date | null;
      last_used_step: string | null;
    }>('SELECT secret_encrypted, enabled_at, last_used_step FROM mfa_totp WHERE user_id = $1 FOR UPDATE', [userId]);
    return rows[0] ? storedTotp(rows[0]) : null;
  }

  /** Records the step of an accepted code; false when that step (or a later one) was used already. */
  async acceptStep(userId: string, step: number): Promise<boolean> {
    const result = await this.client.query(
      `UPDATE mfa_totp SET last_used_step = $2
        WHERE user_id = $1 AND (last_used_step IS NULL OR last_used_step < $2)`,
      [userId, step],
    );
    return result.rowCount === 1;
  }

  /** Turns the pending app on, and replaces the recovery codes with these. */
  async enable(userId: string, now: Date, recoveryCodeHashes: string[]): Promise<void> {
    await this.client.query('UPDATE mfa_totp SET enabled_at = $2 WHERE user_id = $1', [userId, now]);
    await this.replaceRecoveryCodes(userId, now, recoveryCodeHashes);
  }

  async replaceRecoveryCodes(userId: string, now: Date, hashes: string[]): Promise<void> {
    await this.client.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
    await this.client.query(
      `INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at)
       SELECT $1, hash, $2 FROM unnest($3::text[]) AS hash`,
      [userId, now, hashes],
    );
  }

  /** Spends a recovery code; false when the user has no such unspent code. */
  async spendRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean> {
    const result = await this.client.query(
      'UPDATE mfa_recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL',
      [userId, codeHash, now],
    );
    return result.rowCount === 1;
  }

  /**
   * The pending challenge of this token, locked: not expired and with wrong codes to spare. Null
   * otherwise (unknown, used, expired or dead).
   */
  async lockChallenge(tokenHash: string, now: Date): Promise<PendingChallenge | null> {
    const { rows } = await this.client.query<{
      user_id: string;
      account_key: string;
      password_fingerprint: string;
      device_name: string | null;
      failed_attempts: number;
      password_hash: string;
      email: string;
      email_verified_at: Date | null;
      first_factor: string[];
    }>(
      `SELECT c.user_id, c.account_key, c.password_fingerprint, c.device_name, c.failed_attempts, c.first_factor,
              u.password_hash, u.email, u.email_verified_at
         FROM mfa_challenges c JOIN users u ON u.id = c.user_id
        WHERE c.token_hash = $1 AND c.expires_at > $2 AND c.failed_attempts < $3
        FOR UPDATE OF c`,
      [tokenHash, now, DEFAULTS.mfaChallengeMaxFailures],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      userId: row.user_id,
      accountKey: row.account_key,
      passwordFingerprint: row.password_fingerprint,
      deviceName: row.device_name,
      failedAttempts: row.failed_attempts,
      passwordHash: row.password_hash,
      email: row.email,
      emailVerifiedAt: row.email_verified_at,
      firstFactor: row.first_factor,
    };
  }

  /** A wrong code for the challenge: one fewer to spare (at the last, lockChallenge finds it no more). */
  async failChallenge(tokenHash: string): Promise<void> {
    await this.client.query('UPDATE mfa_challenges SET failed_attempts = failed_attempts + 1 WHERE token_hash = $1', [
      tokenHash,
    ]);
  }

  /** The challenge succeeded: it is gone (single use). */
  async consumeChallenge(tokenHash: string): Promise<void> {
    await this.client.query('DELETE FROM mfa_challenges WHERE token_hash = $1', [tokenHash]);
  }
}

/** The second factor's rows: authenticator apps, recovery codes, pending second steps of sign-ins. */
@Injectable()
export class MfaRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (transaction: MfaTransaction) => Promise<T>): Promise<T> {
    return inDriverTransaction(this.dataSource, (client) => work(new MfaTransaction(client)));
  }

  /**
   * Stores a new pending secret (replacing an earlier pending one); false when the user's app is
   * already on (nothing changed).
   */
  async savePending(userId: string, secretEncrypted: string, now: Date): Promise<boolean> {
    const { rowCount } = await driverPool(this.dataSource).query(
      `INSERT INTO mfa_totp (user_id, secret_encrypted, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET secret_encrypted = EXCLUDED.secret_encrypted,
              created_at = EXCLUDED.created_at, last_used_step = NULL
        WHERE mfa_totp.enabled_at IS NULL`,
      [userId, secretEncrypted, now],
    );
    return rowCount === 1;
  }

  /** Whether the app is on, and how many recovery codes are unspent, in one round trip. */
  async status(userId: string): Promise<{ totp: boolean; recoveryCodesLeft: number }> {
    const { rows } = await driverPool(this.dataSource).query<{ totp: boolean; left: number }>(
      `SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND enabled_at IS NOT NULL) AS totp,
              (SELECT count(*)::int FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL) AS left`,
      [userId],
    );
    return { totp: rows[0].totp, recoveryCodesLeft: rows[0].left };
  }

  /**
   * Removes the user's second factor: any sign-in waiting for its second step, the app and the
   * recovery codes, locked in the order a second step locks them (challenge, app, codes), so that
   * the two never wait on each other. True when an app that was on was removed.
   */
  async removeAll(
    userId: string,
    also: (transaction: TransactionStatements) => Promise<void> = async () => undefined,
  ): Promise<boolean> {
    return inDriverTransaction(this.dataSource, async (client) => {
      await client.query('DELETE FROM mfa_challenges WHERE user_id = $1', [userId]);
      const { rows } = await client.query<{ enabled_at: Date | null }>(
        'DELETE FROM mfa_totp WHERE user_id = $1 RETURNING enabled_at',
        [userId],
      );
      await client.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
      const wasOn = rows[0]?.enabled_at != null;
      // Its event only when there was a factor to remove.
      if (wasOn) await also(driverStatements(client));
      return wasOn;
    });
  }

  /**
   * Every authenticator app's secret, sealed again (`keys reencrypt`), within the caller's
   * transaction: rows locked, each replaced by what `reseal` makes of it; `reseal` throwing rolls
   * everything back. Returns how many.
   */
  async resealTotpSecrets(
    transaction: TransactionStatements,
    reseal: (userId: string, sealed: string) => string,
  ): Promise<number> {
    // No app is set up meanwhile: its secret would be sealed under the secret being replaced.
    await transaction.query('LOCK TABLE mfa_totp IN EXCLUSIVE MODE');
    const rows: Array<{ user_id: string; secret_encrypted: string }> = await transaction.query(
      'SELECT user_id, secret_encrypted FROM mfa_totp ORDER BY user_id',
    );
    if (rows.length === 0) return 0;
    const resealed = rows.map((row) => reseal(row.user_id, row.secret_encrypted));
    await transaction.query(
      `UPDATE mfa_totp t SET secret_encrypted = r.sealed
         FROM unnest($1::uuid[], $2::text[]) AS r(user_id, sealed) WHERE t.user_id = r.user_id`,
      [rows.map((row) => row.user_id), resealed],
    );
    return rows.length;
  }

  async createChallenge(challenge: NewChallenge): Promise<void> {
    await driverPool(this.dataSource).query(
      `INSERT INTO mfa_challenges (token_hash, user_id, account_key, password_fingerprint, device_name, created_at,
                                   expires_at, first_factor)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        challenge.tokenHash,
        challenge.userId,
        challenge.accountKey,
        challenge.passwordFingerprint,
        challenge.deviceName,
        challenge.now,
        challenge.expiresAt,
        challenge.firstFactor,
      ],
    );
  }
}

function storedTotp(row: { secret_encrypted: string; enabled_at: Date | null; last_used_step: string | null }) {
  return {
    secretEncrypted: row.secret_encrypted,
    enabled: row.enabled_at !== null,
    lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step),
  };
}
