import { Inject, Injectable } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { secondsUntil, TooManyRequestsException } from '../common/exceptions.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import { clientHits, type RateLimitDecision, type RateLimitHit } from './rate-limit.repository.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';

export const PASSWORD_CHECK_SCOPE = 'password-check';
export const PASSWORD_CHECK_NETWORK_SCOPE = 'password-check-net';
/** Clients this instance remembers as over budget; past it, the memory starts again (the database still decides). */
const MAX_REMEMBERED_REFUSALS = 10_000;

/**
 * The hashing one client may cost: every password check (a login, the current password before a
 * change or a deletion) is counted per client (IPv4 address or IPv6 /64) before any hashing,
 * whether the password turns out right or not. The failure throttle alone does not bound it: a
 * right password resets the failure count, so a client looping correct logins kept argon2 busy
 * on libuv's threads, and every other user's login waited behind it.
 */
@Injectable()
export class PasswordCheckBudgetService {
  /**
   * Client key → when its budget frees up (ms), for clients the database found over budget: until
   * then this instance refuses them from memory. Hits only accumulate within a window, so a
   * refusal the database gave holds until that instant; without this, a hammering client's every
   * 429 cost a transaction, and the 429s alone took the CPU other clients' logins need.
   */
  private readonly refusedUntil = new Map<string, number>();

  constructor(
    private readonly events: SecurityEventsService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /**
   * The hits one check counts for this client: its address and, for IPv6, its /48 (65,536 /64s
   * would otherwise have a budget each). Refused from memory, before anything is read, while the
   * database's last refusal of this client holds.
   */
  hitsFor(ip: string | null): RateLimitHit[] {
    const now = this.clock.now();
    const hits = clientHits(
      ip,
      now,
      this.options.passwordChecksWindow,
      { scope: PASSWORD_CHECK_SCOPE, max: this.options.passwordChecksMaxPerIp },
      { scope: PASSWORD_CHECK_NETWORK_SCOPE, max: this.options.passwordChecksMaxPerNetwork },
    );
    for (const { key } of hits) {
      const remembered = this.refusedUntil.get(key);
      if (remembered === undefined) continue;
      // Refused from memory without an event: the refusal that began it had one, and a client
      // hammering must not turn into one log line per request.
      if (remembered > now.getTime()) throw this.refusal(new Date(remembered), now);
      this.refusedUntil.delete(key);
    }
    return hits;
  }

  /** Nothing when the database counted the check (PasswordCheckRepository.admit); 429 with Retry-After when it refused. */
  judge(decision: RateLimitDecision, ip: string | null, userId: string | null): void {
    if (decision.allowed) return;
    if (this.refusedUntil.size >= MAX_REMEMBERED_REFUSALS) this.refusedUntil.clear();
    this.refusedUntil.set(decision.key, decision.unlocksAt.getTime());
    this.events.emit('login_throttled', {
      userId,
      ip,
      reason: decision.scope === PASSWORD_CHECK_NETWORK_SCOPE ? 'password_checks_network' : 'password_checks',
    });
    throw this.refusal(decision.unlocksAt, this.clock.now());
  }

  private refusal(unlocksAt: Date, now: Date): TooManyRequestsException {
    const wait = secondsUntil(unlocksAt, now);
    return new TooManyRequestsException(`Too many password checks from this address; retry in ${wait} seconds`, wait);
  }
}
