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
  async create(email: string, passwordHash: string): Promise<UserEntity | null> {
    const rows: Array<{ id: string }> = await this.users.query(
      `INSERT INTO users (email, email_canonical, password_hash) VALUES ($1, $2, $3)
       ON CONFLICT (email_canonical) DO NOTHING RETURNING id`,
      [email.trim(), canonicalEmail(email), passwordHash],
    );
    return rows.length === 1 ? this.users.findOneByOrFail({ id: rows[0].id }) : null;
  }

  /** The user of an address, in any spelling of it (canonicalEmail). */
  findByEmail(email: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ emailCanonical: canonicalEmail(email) });
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }
}
