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

  /**
   * One attempt's own record, and nothing else, goes: it was no failure, yet says nothing about
   * the account's other failures (a right password whose second factor is still to come).
   */
  async withdrawOne(accountKey: string, ip: string, failedAt: Date): Promise<void> {
    await this.dataSource.query(
      `DELETE FROM login_failures WHERE id = (
         SELECT id FROM login_failures WHERE account_key = $1 AND ip = $2 AND failed_at = $3 ORDER BY id DESC LIMIT 1)`,
      [accountKey, ip, failedAt],
    );
  }
}
