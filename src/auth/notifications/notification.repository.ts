import type { TransactionStatements } from '../common/driver-pool.js';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool } from '../common/driver-pool.js';
import { REVOCATION_CHANNEL } from '../revocation/revocation-events.js';
import { NotificationSigner } from './notification-signer.js';

/**
 * Every NOTIFY the module sends goes through here, and is signed here (NotificationSigner): a
 * payload sent any other way is dropped by every receiver.
 */
@Injectable()
export class NotificationRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly signer: NotificationSigner,
  ) {}

  /** The heartbeat: one NOTIFY on the channel through the driver's pool (the listener's round trip). */
  async notifyThroughPool(body: string): Promise<void> {
    await driverPool(this.dataSource).query('SELECT pg_notify($1, $2)', [
      REVOCATION_CHANNEL,
      this.signer.signHeartbeat(body),
    ]);
  }

  /**
   * Inside the caller's transaction, in one statement: delivered when it commits, never when it
   * rolls back. Throws (and so rolls the change back) when this module has no key to sign with.
   */
  async notifyIn(manager: TransactionStatements, bodies: string[]): Promise<void> {
    if (bodies.length === 0) return;
    const payloads = bodies.map((body) => this.signer.sign(body));
    await manager.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [
      REVOCATION_CHANNEL,
      payloads,
    ]);
  }
}
