import type { TransactionStatements } from '../common/driver-pool.js';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { canonicalEmail } from './email-address.js';
import { UserEntity } from './user.entity.js';

@Injectable()
export class UserRepository {
  constructor(@InjectRepository(UserEntity) private readonly users: Repository<UserEntity>) {}

  /**
   * Inserts a user; null when the address is taken in any spelling (canonicalEmail). The unique
   * index on email_canonical decides, so concurrent registrations of one address make exactly one
   * row, and no failed statement (with its parameters) ends up in a log.
   */
  /**
   * A new user; null when the address is taken. `also` runs in the same transaction once the row
   * is written (the `user_registered` event).
   */
  async create(
    email: string,
    passwordHash: string,
    also: (transaction: TransactionStatements, userId: string) => Promise<void> = async () => undefined,
  ): Promise<UserEntity | null> {
    const id = await this.users.manager.transaction(async (manager) => {
      const rows: Array<{ id: string }> = await manager.query(
        `INSERT INTO users (email, email_canonical, password_hash) VALUES ($1, $2, $3)
         ON CONFLICT (email_canonical) DO NOTHING RETURNING id`,
        [email.trim(), canonicalEmail(email), passwordHash],
      );
      if (rows.length !== 1) return null;
      await also(manager, rows[0].id);
      return rows[0].id;
    });
    return id === null ? null : this.users.findOneByOrFail({ id });
  }

  /** The user of an address, in any spelling of it (canonicalEmail). */
  findByEmail(email: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ emailCanonical: canonicalEmail(email) });
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }
}
