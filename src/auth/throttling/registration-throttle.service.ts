import { Inject, Injectable } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { secondsUntil, TooManyRequestsException } from '../common/exceptions.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import { clientHits, RateLimitRepository } from './rate-limit.repository.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';

export const REGISTER_SCOPE = 'register';
export const REGISTER_NETWORK_SCOPE = 'register-net';

/**
 * Bounds registrations per client (IPv4 address or IPv6 /64) and, wider, per IPv6 /48: each one
 * costs a password hash and a row. Counted before hashing, successful or not, in a sliding window.
 */
@Injectable()
export class RegistrationThrottleService {
  constructor(
    private readonly limits: RateLimitRepository,
    private readonly events: SecurityEventsService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  async check(ip: string | null): Promise<void> {
    const now = this.clock.now();
    const hits = clientHits(
      ip,
      now,
      this.options.registerWindow,
      { scope: REGISTER_SCOPE, max: this.options.registerMaxPerIp },
      { scope: REGISTER_NETWORK_SCOPE, max: this.options.registerMaxPerNetwork },
    );
    const decision = await this.limits.hit(hits);
    if (decision.allowed) return;
    const wait = secondsUntil(decision.unlocksAt, now);
    const reason = decision.scope === REGISTER_NETWORK_SCOPE ? 'network' : 'ip';
    await this.events.emit('register_throttled', { userId: null, ip, reason });
    const from = reason === 'network' ? 'this network' : 'this address';
    throw new TooManyRequestsException(`Too many registrations from ${from}; retry in ${wait} seconds`, wait);
  }
}
