import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { UserEntity } from './user.entity.js';

@Injectable()
export class UserRepository {
  constructor(@InjectRepository(UserEntity) private readonly users: Repository<UserEntity>) {}

  /**
   * Inserts a user; null when the email is taken in any letter case. The unique index on
   * lower(email) decides, so concurrent registrations of one email make exactly one row, and no
   * failed statement (with its parameters) ends up in a log.
   */
  async create(email: string, passwordHash: string): Promise<UserEntity | null> {
    const rows: Array<{ id: string }> = await this.users.query(
      `INSERT INTO users (email, password_hash) VALUES ($1, $2)
       ON CONFLICT ((lower(email))) DO NOTHING RETURNING id`,
      [email, passwordHash],
    );
    return rows.length === 1 ? this.users.findOneByOrFail({ id: rows[0].id }) : null;
  }

  findByEmail(email: string): Promise<UserEntity | null> {
    return this.users.createQueryBuilder('user').where('lower(user.email) = lower(:email)', { email }).getOne();
  }

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }
}
