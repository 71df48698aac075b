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
/**
 * Passwordless sign-in options (each writes a challenge): a budget of their own with the same
 * numbers, so that a network's page views (the sign-in page asks for options on load, for
 * autofill) never spend the password checks of its people.
 */
export const PASSKEY_OPTIONS_SCOPE = 'passkey-options';
export const PASSKEY_OPTIONS_NETWORK_SCOPE = 'passkey-options-net';
/** Sign-ins started at another provider (each writes a transaction): a budget of their own too. */
export const OIDC_START_SCOPE = 'oidc-start';
export const OIDC_START_NETWORK_SCOPE = 'oidc-start-net';
export type CheckBudget = 'password' | 'passkey-options' | 'oidc-start';

/** Each budget's scopes (client, network) and what its 429 calls the checks. */
const BUDGETS: Record<CheckBudget, { client: string; network: string; what: string }> = {
  password: { client: PASSWORD_CHECK_SCOPE, network: PASSWORD_CHECK_NETWORK_SCOPE, what: 'password checks' },
  'passkey-options': {
    client: PASSKEY_OPTIONS_SCOPE,
    network: PASSKEY_OPTIONS_NETWORK_SCOPE,
    what: 'passkey sign-ins',
  },
  'oidc-start': { client: OIDC_START_SCOPE, network: OIDC_START_NETWORK_SCOPE, what: 'sign-ins with other providers' },
};
/** The `login_throttled` event's reason for each budget's refusal. */
const REASONS: Record<string, string> = {
  [PASSWORD_CHECK_SCOPE]: 'password_checks',
  [PASSWORD_CHECK_NETWORK_SCOPE]: 'password_checks_network',
  [PASSKEY_OPTIONS_SCOPE]: 'passkey_options',
  [PASSKEY_OPTIONS_NETWORK_SCOPE]: 'passkey_options_network',
  [OIDC_START_SCOPE]: 'oidc_starts',
  [OIDC_START_NETWORK_SCOPE]: 'oidc_starts_network',
};
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
  hitsFor(ip: string | null, budget: CheckBudget = 'password'): RateLimitHit[] {
    const now = this.clock.now();
    const scopes = BUDGETS[budget];
    const hits = clientHits(
      ip,
      now,
      this.options.passwordChecksWindow,
      { scope: scopes.client, max: this.options.passwordChecksMaxPerIp },
      { scope: scopes.network, max: this.options.passwordChecksMaxPerNetwork },
    );
    for (const { scope, key } of hits) {
      const remembered = this.refusedUntil.get(`${scope} ${key}`);
      if (remembered === undefined) continue;
      // Refused from memory without an event: the refusal that began it had one, and a client
      // hammering must not turn into one log line per request.
      if (remembered > now.getTime()) throw this.refusal(new Date(remembered), now, scope);
      this.refusedUntil.delete(`${scope} ${key}`);
    }
    return hits;
  }

  /** Nothing when the database counted the check (PasswordCheckRepository.admit); 429 with Retry-After when it refused. */
  judge(decision: RateLimitDecision, ip: string | null, userId: string | null): void {
    if (decision.allowed) return;
    if (this.refusedUntil.size >= MAX_REMEMBERED_REFUSALS) this.refusedUntil.clear();
    this.refusedUntil.set(`${decision.scope} ${decision.key}`, decision.unlocksAt.getTime());
    // Not awaited: the refusal is sync, and its answer does not wait for the write.
    void this.events.emit('login_throttled', { userId, ip, reason: REASONS[decision.scope] ?? 'password_checks' });
    throw this.refusal(decision.unlocksAt, this.clock.now(), decision.scope);
  }

  private refusal(unlocksAt: Date, now: Date, scope: string): TooManyRequestsException {
    const wait = secondsUntil(unlocksAt, now);
    const what =
      Object.values(BUDGETS).find((budget) => budget.client === scope || budget.network === scope)?.what ??
      'password checks';
    return new TooManyRequestsException(`Too many ${what} from this address; retry in ${wait} seconds`, wait);
  }
}
