import { Inject, Injectable, Logger } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import type { TransactionStatements } from '../common/driver-pool.js';
import { AuthEventRepository } from './auth-event.repository.js';
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
    ...(event.actor ? { actor: event.actor } : {}),
    ...(event.deviceName ? { deviceName: event.deviceName } : {}),
    ...(event.details ? { details: event.details } : {}),
  });
}

/** Whether events are written to the event store (the module option `eventStore`, default on). */
export const AUTH_EVENT_STORE_ON = Symbol('AUTH_EVENT_STORE_ON');

/**
 * Records the module's security events: each is written to the event store (auth_events) and
 * handed to the configured handler. The handler never fails or delays the request that caused an
 * event: a slow or broken one (a log shipper that is down) is not the client's problem.
 *
 * An event that records a change with a transaction of its own (a logout, a password change) is
 * written in that transaction (`change()`): a change rolled back leaves no event, and an event is
 * never lost while its change stays. Others (a failed sign-in) are written in a statement of their own.
 */
@Injectable()
export class SecurityEventsService {
  private readonly logger = new Logger(SecurityEventsService.name);

  constructor(
    @Inject(SECURITY_EVENT_HANDLER) private readonly handler: SecurityEventHandler,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    private readonly store: AuthEventRepository,
    @Inject(AUTH_EVENT_STORE_ON) private readonly storeOn: boolean,
  ) {}

  /**
   * An event with no transaction to join: handed to the handler, and written in a statement of
   * its own. Resolves once written; never rejects (a failed write is logged: the request that
   * caused it has already had its effect).
   */
  async emit(type: SecurityEventType, details: EventDetails): Promise<void> {
    const event = this.event(type, details);
    // The handler first: no transaction to wait for, and a caller that does not wait for the
    // write (a throttle's refusal) still has its event handed over before it answers.
    this.handle(event);
    if (!this.storeOn) return;
    try {
      await this.store.insert([event]);
    } catch (error) {
      this.logger.warn(`Security event ${type} not stored: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  /** The events of one change: written inside its transaction, handed to the handler once it committed. */
  change(): EventsOfChange {
    return new EventsOfChange(this);
  }

  /** The event as recorded now (the module's clock). */
  event(type: SecurityEventType, details: EventDetails): SecurityEvent {
    return { type, at: this.clock.now(), ...details };
  }

  /** Whether events go to the store (else only to the handler). */
  get storing(): boolean {
    return this.storeOn;
  }

  /** @internal Writes events in a transaction (EventsOfChange). */
  async writeIn(transaction: TransactionStatements, events: readonly SecurityEvent[]): Promise<void> {
    if (this.storeOn) await this.store.insertIn(transaction, events);
  }

  /** Hands an event to the handler (already stored, or not to be). */
  handle(event: SecurityEvent): void {
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

export type EventDetails = Omit<SecurityEvent, 'type' | 'at'>;

/**
 * The events of one change. `write` puts them in the change's transaction; `announce`, once it has
 * committed, hands them to the handler (never for a change rolled back: the caller does not get there).
 */
export class EventsOfChange {
  private readonly written: SecurityEvent[] = [];

  constructor(private readonly events: SecurityEventsService) {}

  /** Writes events (one per `details`) in the transaction `transaction`. */
  async write(transaction: TransactionStatements, type: SecurityEventType, ...details: EventDetails[]): Promise<void> {
    const events = details.map((each) => this.events.event(type, each));
    await this.events.writeIn(transaction, events);
    this.written.push(...events);
  }

  /** Hands what was written to the handler. Call once the transaction has committed. */
  announce(): void {
    for (const event of this.written.splice(0)) this.events.handle(event);
  }
}
