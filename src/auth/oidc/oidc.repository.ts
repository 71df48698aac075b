import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { canonicalEmail } from '../accounts/email-address.js';
import { removeUnlessLastWayIn } from '../accounts/ways-in.js';
import {
  driverPool,
  driverStatements,
  inDriverTransaction,
  type TransactionStatements,
} from '../common/driver-pool.js';

/** A transaction as the start route writes it. */
export interface NewOidcTransaction {
  stateHash: string;
  bindingHash: string;
  provider: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  transport: 'cookie' | 'code';
  linkUserId: string | null;
  linkSessionId: string | null;
  expiresAt: Date;
}

export type OidcTransaction = Omit<NewOidcTransaction, 'stateHash'>;

/** A linked provider account, as the account page lists it. */
export interface IdentityView {
  id: string;
  provider: string;
  email: string | null;
  linkedAt: Date;
  lastUsedAt: Date | null;
}

/** The local account a provider's sign-in is about. */
export interface FederatedAccount {
  userId: string;
  /** Whether this sign-in linked the identity (the event is the caller's). */
  linked: boolean;
  /** Whether this sign-in created the account. */
  created: boolean;
}

/** Why a provider's sign-in finds no account it may use. */
export type FederatedRefusal = 'account_exists' | 'email_missing' | 'user_gone';

/**
 * The SQL of sign-in with OpenID Connect providers: transactions (single use), the one-time codes
 * of bearer clients (single use), and linked identities, with the linking rules applied in one
 * database transaction each.
 */
@Injectable()
export class OidcRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get pool() {
    return driverPool(this.dataSource);
  }

  async saveTransaction(transaction: NewOidcTransaction): Promise<void> {
    await this.pool.query(
      `INSERT INTO oidc_transactions (state_hash, binding_hash, provider, nonce, code_verifier, return_to, transport,
                                      link_user_id, link_session_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        transaction.stateHash,
        transaction.bindingHash,
        transaction.provider,
        transaction.nonce,
        transaction.codeVerifier,
        transaction.returnTo,
        transaction.transport,
        transaction.linkUserId,
        transaction.linkSessionId,
        transaction.expiresAt,
      ],
    );
  }

  /** Takes the transaction of this state (deleted whatever happens next: single use); null when unknown or expired. */
  async takeTransaction(stateHash: string, now: Date): Promise<OidcTransaction | null> {
    const { rows } = await this.pool.query<{
      binding_hash: string;
      provider: string;
      nonce: string;
      code_verifier: string;
      return_to: string;
      transport: 'cookie' | 'code';
      link_user_id: string | null;
      link_session_id: string | null;
      expires_at: Date;
    }>(`DELETE FROM oidc_transactions WHERE state_hash = $1 RETURNING *`, [stateHash]);
    const row = rows[0];
    if (!row || row.expires_at <= now) return null;
    return {
      bindingHash: row.binding_hash,
      provider: row.provider,
      nonce: row.nonce,
      codeVerifier: row.code_verifier,
      returnTo: row.return_to,
      transport: row.transport,
      linkUserId: row.link_user_id,
      linkSessionId: row.link_session_id,
      expiresAt: row.expires_at,
    };
  }

  /** False when the user is gone (nothing saved). */
  async saveLoginCode(
    codeHash: string,
    userId: string,
    provider: string,
    bindingHash: string,
    expiresAt: Date,
  ): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO oidc_login_codes (code_hash, user_id, provider, binding_hash, expires_at)
       SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE id = $2)`,
      [codeHash, userId, provider, bindingHash, expiresAt],
    );
    return rowCount === 1;
  }

  /**
   * Spends a one-time code (deleted whatever happens: single use): its user and provider, or null
   * when unknown, used, expired, or presented by another browser than the one that started it.
   */
  async takeLoginCode(
    codeHash: string,
    bindingHash: string | null,
    now: Date,
  ): Promise<{ userId: string; provider: string } | null> {
    const { rows } = await this.pool.query<{
      user_id: string;
      provider: string;
      binding_hash: string;
      expires_at: Date;
    }>('DELETE FROM oidc_login_codes WHERE code_hash = $1 RETURNING user_id, provider, binding_hash, expires_at', [
      codeHash,
    ]);
    const row = rows[0];
    if (!row || row.expires_at <= now || row.binding_hash !== bindingHash) return null;
    return { userId: row.user_id, provider: row.provider };
  }

  /**
   * The account a provider's sign-in opens, by the rules: the user this (provider, subject) is
   * linked to; else, when nobody has the address, a new account without a password (its address
   * verified when the provider says so), linked; else, when `mayLink` (a provider trusted for the
   * addresses it verifies, that verified this one) and the local address is verified too, that
   * account, linked; else `account_exists`, nothing written. The address's owner (its row) is
   * locked first, so that two first sign-ins at once end with one account and one link.
   */
  async signIn(
    claims: { provider: string; subject: string; email: string | null; emailVerified: boolean },
    mayLink: boolean,
    newIds: { userId: string; identityId: string },
    now: Date,
    also: (transaction: TransactionStatements, account: FederatedAccount) => Promise<void> = async () => undefined,
  ): Promise<FederatedAccount | FederatedRefusal> {
    return inDriverTransaction(this.dataSource, async (client) => {
      const known = await client.query<{ user_id: string }>(
        `UPDATE user_identities SET last_used_at = $3 WHERE provider = $1 AND subject = $2 RETURNING user_id`,
        [claims.provider, claims.subject, now],
      );
      if (known.rows[0]) return { userId: known.rows[0].user_id, linked: false, created: false };
      if (claims.email === null) return 'email_missing';
      const canonical = canonicalEmail(claims.email);
      // Creates the account unless the address is taken; either way its row is then locked.
      const created = await client.query<{ id: string }>(
        `INSERT INTO users (id, email, email_canonical, password_hash, email_verified_at)
         VALUES ($1, $2, $3, NULL, $4)
         ON CONFLICT (email_canonical) DO NOTHING RETURNING id`,
        [newIds.userId, claims.email.trim(), canonical, claims.emailVerified ? now : null],
      );
      let userId: string;
      if (created.rows[0]) {
        userId = created.rows[0].id;
      } else {
        const existing = await client.query<{ id: string; verified: boolean }>(
          `SELECT id, email_verified_at IS NOT NULL AS verified FROM users WHERE email_canonical = $1 FOR UPDATE`,
          [canonical],
        );
        const account = existing.rows[0];
        if (!account) return 'user_gone';
        // Linked by another sign-in of this subject that committed while this one waited: that user.
        const linkedMeanwhile = await client.query<{ user_id: string }>(
          'SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2',
          [claims.provider, claims.subject],
        );
        if (linkedMeanwhile.rows[0]) return { userId: linkedMeanwhile.rows[0].user_id, linked: false, created: false };
        if (!mayLink || !account.verified) return 'account_exists';
        userId = account.id;
      }
      const linked = await client.query(
        `INSERT INTO user_identities (id, user_id, provider, subject, email, linked_at, last_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (provider, subject) DO NOTHING`,
        [newIds.identityId, userId, claims.provider, claims.subject, claims.email, now],
      );
      // Linked meanwhile by another sign-in of the same subject: that link stands, and this one
      // is rolled back (an account it created included) to be tried again.
      if (linked.rowCount !== 1) throw new IdentityRace();
      const account = { userId, linked: true, created: created.rows[0] !== undefined };
      // Its events (an account made, a link), with it.
      await also(driverStatements(client), account);
      return account;
    });
  }

  /**
   * Links (provider, subject) to this user (a link from the account page), while the session that
   * asked is still live (not revoked, not expired, not cut off by a logout-all, a password change
   * or a ban since): `session_ended` otherwise, `identity_in_use` when it is another user's; true
   * when it was linked now, false when it was this user's already.
   */
  async link(
    owner: { userId: string; sessionId: string },
    claims: { provider: string; subject: string; email: string | null },
    identityId: string,
    now: Date,
  ): Promise<boolean | 'identity_in_use' | 'session_ended'> {
    const { rows } = await this.pool.query<{ user_id: string | null; inserted: boolean; live: boolean }>(
      `WITH live AS (
         SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
          WHERE s.id = $7 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $6
            AND (u.tokens_valid_after IS NULL OR s.created_at >= u.tokens_valid_after)),
       inserted AS (
         INSERT INTO user_identities (id, user_id, provider, subject, email, linked_at)
         SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM live)
         ON CONFLICT (provider, subject) DO NOTHING RETURNING user_id)
       SELECT user_id, true AS inserted, true AS live FROM inserted
       UNION ALL
       SELECT (SELECT user_id FROM user_identities WHERE provider = $3 AND subject = $4), false,
              EXISTS (SELECT 1 FROM live)`,
      [identityId, owner.userId, claims.provider, claims.subject, claims.email, now, owner.sessionId],
    );
    // The first row is the insert's when there was one.
    const row = rows[0];
    if (row.inserted) return true;
    if (!row.live) return 'session_ended';
    return row.user_id === owner.userId ? false : 'identity_in_use';
  }

  async listFor(userId: string): Promise<IdentityView[]> {
    const { rows } = await this.pool.query<{
      id: string;
      provider: string;
      email: string | null;
      linked_at: Date;
      last_used_at: Date | null;
    }>(
      'SELECT id, provider, email, linked_at, last_used_at FROM user_identities WHERE user_id = $1 ORDER BY linked_at, id',
      [userId],
    );
    return rows.map((row) => ({
      id: row.id,
      provider: row.provider,
      email: row.email,
      linkedAt: row.linked_at,
      lastUsedAt: row.last_used_at,
    }));
  }

  /**
   * Unlinks one of the user's identities unless it is their last way to sign in (no password, no
   * passkey, no other identity): the user's row is locked first, in a statement of its own, so
   * that the counts after it see any removal that held it before.
   */
  async unlink(
    userId: string,
    id: string,
    also: (transaction: TransactionStatements, provider: string) => Promise<void> = async () => undefined,
  ): Promise<{ outcome: 'removed'; provider: string } | { outcome: 'last' | 'missing' }> {
    return inDriverTransaction(this.dataSource, async (client) => {
      let provider = '';
      const removal = await removeUnlessLastWayIn(
        client,
        userId,
        { identityId: id },
        async () => {
          const { rows } = await client.query<{ provider: string }>(
            'DELETE FROM user_identities WHERE id = $1 AND user_id = $2 RETURNING provider',
            [id, userId],
          );
          provider = rows[0]?.provider ?? '';
          return rows.length === 1;
        },
        async () =>
          (await client.query('SELECT 1 FROM user_identities WHERE id = $1 AND user_id = $2', [id, userId]))
            .rowCount === 1,
      );
      if (removal.outcome !== 'removed') return removal;
      await also(driverStatements(client), provider);
      return { outcome: 'removed', provider };
    });
  }
}

/** Two first sign-ins of one subject at once: the one that lost is tried again, and finds the link. */
export class IdentityRace extends Error {}
