import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool } from '../common/driver-pool.js';
import { REVOCATION_CHANNEL } from '../revocation/revocation-events.js';

/** The listener's own statement: a NOTIFY sent through the pool that the listener must hear. */
@Injectable()
export class NotificationRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One NOTIFY on the channel through the driver's pool (the heartbeat's round trip). */
  async notifyThroughPool(payload: string): Promise<void> {
    await driverPool(this.dataSource).query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, payload]);
  }
}
