import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { driverPool } from '../common/driver-pool.js';
import type { RateLimitDecision, RateLimitHit } from './rate-limit.repository.js';

export interface AttemptLimits {
  accountKey: string;
  /** The client's throttling key (an IPv4 address, or an IPv6 /64). */
  ip: string;
  now: Date;
  windowStart: Date;
  /** Failures of the account from this client. */
  maxPerAccount: number;
  /** Failures from this client over all accounts. */
  maxPerIp: number;
  /** Failures of the account over all clients. */
  maxPerAccountOverall: number;
}

/** Which limit is full: the account from this client, the client overall, the account overall. */
export type ThrottleLimit = 'account_ip' | 'ip' | 'account';

export type AttemptDecision =
  | { allowed: true }
  /** `unlocksAt`: when the oldest of the failures that fill the limit leaves the window. */
  | { allowed: false; unlocksAt: Date; limit: ThrottleLimit };

/** The account a password check is for, as the admission read it (login: by its canonical email). */
export interface CheckedAccount {
  id: string;
  email: string;
  /** Null: the account has no password (no password is ever right). */
  passwordHash: string | null;
  emailVerifiedAt: Date | null;
}

export interface Admission {
  /** The client's budget of password checks (PasswordCheckBudgetService). */
  budget: RateLimitDecision;
  /** The failure throttle; not judged (and nothing recorded) when the budget refused. */
  attempt: AttemptDecision;
  /** The account of `lookupEmail`, when one was asked for and exists. */
  account: CheckedAccount | null;
}

/**
 * Everything a password check writes before its hash, in one round trip: the client's budget of
 * checks (rate_limit_hits), then the failure throttle (login_failures: the attempt counts as a
 * failure until it succeeds), and the account the login names. The database function
 * `auth_admit_password_check` (migration AdmitPasswordChecks) takes an advisory lock on each
 * budget key, then on the client and on the account (always in that order, so that two checks
 * never wait on each other in a cycle), then counts and inserts in a statement whose snapshot sees
 * every check that held them before: concurrent checks, on any instance, cannot slip past a limit
 * together. For each limit it finds the max-th most recent event within the window; the limit is
 * full when there is one. Hits and the attempt are recorded only when every limit before them
 * has room; a check the budget refuses records nothing else.
 *
 * The locks are held inside the server for those few statements, never across a round trip to
 * this process: checks from one address do not queue behind each other's network and event loop.
 * The call commits with synchronous_commit off: these are counters, and a crash may cost the last
 * few hundred milliseconds of them, no more. Sessions and revocations are never written this way.
 */
@Injectable()
export class PasswordCheckRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async admit(budget: RateLimitHit[], limits: AttemptLimits, lookupEmail: string | null): Promise<Admission> {
    const { rows } = await driverPool(this.dataSource).query<AdmissionRow>(
      'SELECT * FROM auth_admit_password_check($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)',
      [
        budget.map((hit) => hit.scope),
        budget.map((hit) => hit.key),
        budget.map((hit) => new Date(hit.now.getTime() - hit.windowSeconds * 1000)),
        budget.map((hit) => hit.max),
        budget.map((hit) => hit.now),
        budget.map((hit) => new Date(hit.now.getTime() + hit.windowSeconds * 1000)),
        limits.accountKey,
        limits.ip,
        limits.windowStart,
        limits.maxPerAccount,
        limits.maxPerIp,
        limits.maxPerAccountOverall,
        limits.now,
        lookupEmail,
      ],
    );
    const row = rows[0];
    return {
      budget: budgetDecision(budget, row.budget_reached ?? []),
      attempt: attemptDecision(limits, row),
      account: row.id
        ? {
            id: row.id,
            email: row.email as string,
            passwordHash: row.password_hash,
            emailVerifiedAt: row.email_verified_at,
          }
        : null,
    };
  }
}

interface AdmissionRow {
  budget_reached: Array<Date | null> | null;
  account_ip_at: Date | null;
  ip_at: Date | null;
  account_at: Date | null;
  id: string | null;
  email: string | null;
  password_hash: string | null;
  email_verified_at: Date | null;
}

function budgetDecision(hits: RateLimitHit[], reached: Array<Date | null>): RateLimitDecision {
  // The first full limit, in the order given, is the one the client is told about.
  for (let i = 0; i < hits.length; i += 1) {
    const reachedAt = reached[i];
    if (!reachedAt) continue;
    const unlocksAt = new Date(reachedAt.getTime() + hits[i].windowSeconds * 1000);
    return { allowed: false, unlocksAt, scope: hits[i].scope, key: hits[i].key };
  }
  return { allowed: true };
}

function attemptDecision(limits: AttemptLimits, row: AdmissionRow): AttemptDecision {
  const full = (
    [
      ['account_ip', row.account_ip_at],
      ['ip', row.ip_at],
      ['account', row.account_at],
    ] as Array<[ThrottleLimit, Date | null]>
  ).filter((entry): entry is [ThrottleLimit, Date] => entry[1] !== null);
  if (full.length === 0) return { allowed: true };
  const windowMs = limits.now.getTime() - limits.windowStart.getTime();
  // The client waits for the limit that frees last.
  const [limit, reachedAt] = full.reduce((a, b) => (b[1] > a[1] ? b : a));
  return { allowed: false, unlocksAt: new Date(reachedAt.getTime() + windowMs), limit };
}
