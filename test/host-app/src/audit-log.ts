import { Logger } from '@nestjs/common';
import type { SecurityEvent, SecurityEventHandler } from 'nest-jwt-revocation';

/** Receives the module's security events (typed; they never carry a token, hash or password). */
export class AuditLog implements SecurityEventHandler {
  private readonly logger = new Logger('Audit');

  handle(event: SecurityEvent): void {
    this.logger.log(JSON.stringify({ audit: event.type, userId: event.userId, at: event.at }));
  }
}
