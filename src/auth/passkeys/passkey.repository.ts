import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { removeUnlessLastWayIn } from '../accounts/ways-in.js';
import {
  driverPool,
  driverStatements,
  inDriverTransaction,
  type TransactionStatements,
} from '../common/driver-pool.js';
import type { WebAuthnPurpose } from './webauthn-challenge.entity.js';

/** A passkey as the account page lists it. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface StoredPasskey extends PasskeyView {
  userId: string;
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
}

export interface NewPasskey {
  id: string;
  userId: string;
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  deviceType: string;
  backedUp: boolean;
  name: string;
  createdAt: Date;
}

/** Who a challenge was handed to (null fields: nobody yet, as for a passwordless sign-in). */
export interface ChallengeOwner {
  userId: string | null;
  sessionId: string | null;
  /** A second step of sign-in: the SHA-256 of its mfaToken. */
  mfaTokenHash?: string | null;
}

interface PasskeyRow {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: Buffer;
  counter: string;
  transports: string[];
  name: string;
  created_at: Date;
  last_used_at: Date | null;
}

const COLUMNS = 'id, user_id, credential_id, public_key, counter, transports, name, created_at, last_used_at';

/** Passkeys and the WebAuthn challenges handed out with options. */
@Injectable()
export class PasskeyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get pool() {
    return driverPool(this.dataSource);
  }

  async saveChallenge(
    challengeHash: string,
    purpose: WebAuthnPurpose,
    owner: ChallengeOwner,
    expiresAt: Date,
  ): Promise<void> {
    // An owner's earlier challenge of this purpose goes: one pending each, so that asking in a loop
    // piles up no rows (the sign-in's, owned by nobody yet, are bounded by the client's budget).
    await this.pool.query(
      `WITH replaced AS (
         DELETE FROM webauthn_challenges
          WHERE $3::uuid IS NOT NULL AND user_id = $3 AND purpose = $2
            AND session_id IS NOT DISTINCT FROM $4 AND mfa_token_hash IS NOT DISTINCT FROM $6)
       INSERT INTO webauthn_challenges (challenge_hash, purpose, user_id, session_id, expires_at, mfa_token_hash)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [challengeHash, purpose, owner.userId, owner.sessionId, expiresAt, owner.mfaTokenHash ?? null],
    );
  }

  /**
   * Spends a challenge: true when it was handed out for this purpose, to this owner (user, session,
   * second step), and has not expired. Deleted in any case (single use).
   */
  async spendChallenge(
    challengeHash: string,
    purpose: WebAuthnPurpose,
    owner: ChallengeOwner,
    now: Date,
  ): Promise<boolean> {
    const { rows } = await this.pool.query<{ ok: boolean }>(
      `DELETE FROM webauthn_challenges WHERE challenge_hash = $1
       RETURNING purpose = $2 AND user_id IS NOT DISTINCT FROM $3 AND session_id IS NOT DISTINCT FROM $4
                 AND mfa_token_hash IS NOT DISTINCT FROM $6 AND expires_at > $5 AS ok`,
      [challengeHash, purpose, owner.userId, owner.sessionId, now, owner.mfaTokenHash ?? null],
    );
    return rows[0]?.ok === true;
  }

  async insert(passkey: NewPasskey): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO passkeys (id, user_id, credential_id, public_key, counter, transports, device_type, backed_up, name,
                             created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (credential_id) DO NOTHING`,
      [
        passkey.id,
        passkey.userId,
        passkey.credentialId,
        Buffer.from(passkey.publicKey),
        passkey.counter,
        passkey.transports,
        passkey.deviceType,
        passkey.backedUp,
        passkey.name,
        passkey.createdAt,
      ],
    );
    return rowCount === 1;
  }

  async listFor(userId: string): Promise<StoredPasskey[]> {
    const { rows } = await this.pool.query<PasskeyRow>(
      `SELECT ${COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`,
      [userId],
    );
    return rows.map(stored);
  }

  /** The passkeys of the account of this canonical email (none for an unknown one), in one query either way. */
  async credentialsForEmail(emailCanonical: string): Promise<Array<{ credentialId: string; transports: string[] }>> {
    const { rows } = await this.pool.query<{ credential_id: string; transports: string[] }>(
      `SELECT p.credential_id, p.transports FROM passkeys p JOIN users u ON u.id = p.user_id
        WHERE u.email_canonical = $1 ORDER BY p.created_at, p.id`,
      [emailCanonical],
    );
    return rows.map((row) => ({ credentialId: row.credential_id, transports: row.transports }));
  }

  async rename(userId: string, id: string, name: string): Promise<StoredPasskey | null> {
    const { rows } = await this.pool.query<PasskeyRow>(
      `UPDATE passkeys SET name = $3 WHERE id = $2 AND user_id = $1 RETURNING ${COLUMNS}`,
      [userId, id, name],
    );
    return rows[0] ? stored(rows[0]) : null;
  }

  /**
   * Removes one of the user's passkeys unless it is their last way to sign in (no password, no
   * other passkey, no connected provider account): 'removed', 'last' (nothing removed) or 'missing'. The user's row is locked
   * first, in a statement of its own: the count that follows then sees any removal that held the
   * lock before (a statement's snapshot is taken when it starts, so a count in the locking
   * statement would be from before its wait, and two removals could each leave the other last).
   */
  async remove(
    userId: string,
    id: string,
    also: (transaction: TransactionStatements) => Promise<void> = async () => undefined,
  ): Promise<'removed' | 'last' | 'missing'> {
    return inDriverTransaction(this.dataSource, async (client) => {
      const removal = await removeUnlessLastWayIn(
        client,
        userId,
        { passkeyId: id },
        async () =>
          (await client.query('DELETE FROM passkeys WHERE id = $1 AND user_id = $2', [id, userId])).rowCount === 1,
        async () =>
          (await client.query('SELECT 1 FROM passkeys WHERE id = $1 AND user_id = $2', [id, userId])).rowCount === 1,
      );
      if (removal.outcome === 'removed') await also(driverStatements(client));
      return removal.outcome;
    });
  }

  async findByCredentialId(credentialId: string): Promise<StoredPasskey | null> {
    const { rows } = await this.pool.query<PasskeyRow>(`SELECT ${COLUMNS} FROM passkeys WHERE credential_id = $1`, [
      credentialId,
    ]);
    return rows[0] ? stored(rows[0]) : null;
  }

  /**
   * Records a use: the new counter and the time, only if the counter moved on (or both are 0: a
   * passkey that keeps none). `regressed` (with the counter on record) when another use got there
   * first with this counter or a later one; `gone` when the passkey was removed meanwhile.
   */
  async used(
    id: string,
    counter: number,
    now: Date,
  ): Promise<{ outcome: 'used' } | { outcome: 'regressed'; stored: number } | { outcome: 'gone' }> {
    const { rows } = await this.pool.query<{ updated: boolean; stored: string | null }>(
      `WITH updated AS (
         UPDATE passkeys SET counter = $2, last_used_at = $3
          WHERE id = $1 AND (counter < $2 OR (counter = 0 AND $2 = 0))
         RETURNING id)
       SELECT EXISTS (SELECT 1 FROM updated) AS updated, (SELECT counter FROM passkeys WHERE id = $1) AS stored`,
      [id, counter, now],
    );
    const [{ updated, stored }] = rows;
    if (updated) return { outcome: 'used' };
    return stored === null ? { outcome: 'gone' } : { outcome: 'regressed', stored: Number(stored) };
  }

  async countFor(userId: string): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM passkeys WHERE user_id = $1',
      [userId],
    );
    return rows[0].n;
  }
}

function stored(row: PasskeyRow): StoredPasskey {
  return {
    id: row.id,
    userId: row.user_id,
    credentialId: row.credential_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: row.transports,
    name: row.name,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}
