import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { NotificationRepository } from '../notifications/notification.repository.js';
import { encodeKeysChanged } from '../revocation/revocation-events.js';

/** Key of the advisory lock that serialises changes to signing_keys (first key, rotation, retirement). */
const SIGNING_KEYS_LOCK = 7_302_114_902;

/** A row of signing_keys. `privateKeyEncrypted` is read only where keys may sign. */
export interface StoredSigningKey {
  kid: string;
  algorithm: string;
  publicKey: string | null;
  privateKeyEncrypted?: string;
  createdAt: Date;
  activatesAt: Date;
  /** When it was revoked (`keys revoke`): from then on it neither signs nor verifies. */
  revokedAt?: Date | null;
}

export interface NewSigningKey {
  kid: string;
  algorithm: string;
  publicKey: string | null;
  privateKeyEncrypted: string;
  activatesAt: Date;
}

interface Row {
  kid: string;
  algorithm: string;
  public_key: string | null;
  private_key_encrypted?: string;
  created_at: Date;
  activates_at: Date;
  revoked_at: Date | null;
}

const toStored = (row: Row): StoredSigningKey => ({
  kid: row.kid,
  algorithm: row.algorithm,
  publicKey: row.public_key,
  ...(row.private_key_encrypted === undefined ? {} : { privateKeyEncrypted: row.private_key_encrypted }),
  createdAt: row.created_at,
  activatesAt: row.activates_at,
  revokedAt: row.revoked_at,
});

const COLUMNS = 'kid, algorithm, public_key, created_at, activates_at, revoked_at';

/**
 * The signing_keys table. Every change is made under one advisory lock and announces itself on the
 * revocation channel in the same transaction: each instance reloads the keys when it commits.
 */
@Injectable()
export class SigningKeyRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly notifications: NotificationRepository,
  ) {}

  /** Every key, oldest activation first; with the encrypted private keys only when asked for. */
  async loadAll(withPrivateKeys: boolean): Promise<StoredSigningKey[]> {
    const privateColumn = withPrivateKeys ? ', private_key_encrypted' : '';
    const rows = (await this.dataSource.query(
      `SELECT ${COLUMNS}${privateColumn} FROM signing_keys ORDER BY activates_at, created_at, kid`,
    )) as Row[];
    return rows.map(toStored);
  }

  /** The ids of the revoked keys (public: a verifier reading a JWKS learns revocations here at once). */
  async revokedKids(): Promise<Set<string>> {
    const rows = (await this.dataSource.query('SELECT kid FROM signing_keys WHERE revoked_at IS NOT NULL')) as Array<{
      kid: string;
    }>;
    return new Set(rows.map((row) => row.kid));
  }

  /**
   * Runs `change` under the keys' lock, in one transaction: two instances starting at once, or a
   * rotation racing another, see each other's rows. insert() and delete() notify in the same
   * transaction (delivered on commit).
   */
  async change<T>(change: (keys: StoredSigningKey[], manager: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      await manager.query('SELECT pg_advisory_xact_lock($1)', [SIGNING_KEYS_LOCK]);
      const rows = (await manager.query(
        `SELECT ${COLUMNS} FROM signing_keys ORDER BY activates_at, created_at, kid`,
      )) as Row[];
      return change(rows.map(toStored), manager);
    });
  }

  async insert(manager: EntityManager, key: NewSigningKey): Promise<void> {
    await manager.query(
      `INSERT INTO signing_keys (kid, algorithm, public_key, private_key_encrypted, activates_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [key.kid, key.algorithm, key.publicKey, key.privateKeyEncrypted, key.activatesAt],
    );
    await this.notifyKeysChanged(manager);
  }

  /**
   * Marks the key revoked (keeps `revokedAt` of one revoked before); every instance drops it from
   * its key ring when the change commits.
   */
  async revoke(manager: EntityManager, kid: string, revokedAt: Date): Promise<void> {
    await manager.query('UPDATE signing_keys SET revoked_at = $2 WHERE kid = $1 AND revoked_at IS NULL', [
      kid,
      revokedAt,
    ]);
    await this.notifyKeysChanged(manager);
  }

  /** The encrypted private keys, read inside change() (re-encryption). */
  async encryptedKeys(manager: EntityManager): Promise<Map<string, string>> {
    const rows = (await manager.query('SELECT kid, private_key_encrypted FROM signing_keys')) as Array<{
      kid: string;
      private_key_encrypted: string;
    }>;
    return new Map(rows.map((row) => [row.kid, row.private_key_encrypted]));
  }

  /** Writes re-encrypted private keys (kid → new ciphertext), inside change(). */
  async replaceEncrypted(manager: EntityManager, encrypted: Map<string, string>): Promise<void> {
    for (const [kid, ciphertext] of encrypted) {
      await manager.query('UPDATE signing_keys SET private_key_encrypted = $2 WHERE kid = $1', [kid, ciphertext]);
    }
  }

  async delete(manager: EntityManager, kids: string[]): Promise<void> {
    if (kids.length === 0) return;
    await manager.query('DELETE FROM signing_keys WHERE kid = ANY($1::text[])', [kids]);
    await this.notifyKeysChanged(manager);
  }

  /** Every instance reads the keys again when the change commits (never for a rolled-back one); signed. */
  private notifyKeysChanged(manager: EntityManager): Promise<void> {
    return this.notifications.notifyIn(manager, [encodeKeysChanged()]);
  }
}
