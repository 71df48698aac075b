import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/**
 * Failed-login counters in PostgreSQL, so that every instance sees the same counts. An attempt is
 * recorded by PasswordCheckRepository.admit, with the client's budget of checks.
 */
@Injectable()
export class LoginFailureRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * A successful login: the account's failures from this client start again from zero. Failures
   * from other clients still count toward the per-account cap: a success here says nothing about
   * them, and clearing them would hand a distributed guesser a fresh allowance each time the real
   * user signs in.
   */
  async resetAccount(accountKey: string, ip: string): Promise<void> {
    await this.dataSource.query('DELETE FROM login_failures WHERE account_key = $1 AND ip = $2', [accountKey, ip]);
  }
}
