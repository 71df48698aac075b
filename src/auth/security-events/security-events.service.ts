import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import type { SecurityEvent, SecurityEventHandler, SecurityEventType } from './security-event.interface.js';

/** Injection token of the SecurityEventHandler (the module option `securityEvents`, or the logging default). */
export const SECURITY_EVENT_HANDLER = Symbol('SECURITY_EVENT_HANDLER');

/** The default handler: one JSON line per event, through Nest's logger (context `AuthSecurity`). */
export class LogSecurityEventHandler implements SecurityEventHandler {
  private readonly logger = new Logger('AuthSecurity');

  handle(event: SecurityEvent): void {
    this.logger.log(formatSecurityEvent(event));
  }
}

/** One line of JSON with the event's fields, dates in ISO-8601. */
export function formatSecurityEvent(event: SecurityEvent): string {
  return JSON.stringify({
    event: event.type,
    at: event.at.toISOString(),
    userId: event.userId,
    ...(event.sessionId ? { sessionId: event.sessionId } : {}),
    ...(event.ip !== undefined ? { ip: event.ip } : {}),
    ...(event.reason ? { reason: event.reason } : {}),
    ...(event.until ? { until: event.until.toISOString() } : {}),
  });
}

/**
 * Hands events to the configured handler without ever failing or delaying the request that
 * caused them: a slow or broken handler (a log shipper that is down) is not the client's problem.
 */
@Injectable()
export class SecurityEventsService {
  private readonly logger = new Logger(SecurityEventsService.name);

  constructor(
    @Inject(SECURITY_EVENT_HANDLER) private readonly handler: SecurityEventHandler,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  emit(type: SecurityEventType, details: Omit<SecurityEvent, 'type' | 'at'>): void {
    const event: SecurityEvent = { type, at: this.clock.now(), ...details };
    try {
      const result = this.handler.handle(event);
      if (result instanceof Promise) result.catch((error: unknown) => this.failed(error));
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    this.logger.warn(`Security event handler failed: ${(error as Error)?.message ?? String(error)}`);
  }
}
