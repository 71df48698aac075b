import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type pg from 'pg';
import type { DataSource } from 'typeorm';
import { REVOCATION_CHANNEL } from '../revocation/revocation-events.js';

/** The listener's own statement: a NOTIFY sent through the pool that the listener must hear. */
@Injectable()
export class NotificationRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** One NOTIFY on the channel through the driver's pool (the heartbeat's round trip). */
  async notifyThroughPool(payload: string): Promise<void> {
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    await pool.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, payload]);
  }
}
