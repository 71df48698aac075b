import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { setTimeout as sleep } from 'node:timers/promises';
import { CronJob } from 'cron';
import type { QueryRunner } from 'typeorm';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import { KeyRotationService } from '../keys/key-rotation.service.js';
import { PurgeRepository } from './purge.repository.js';

export const PURGE_JOB_NAME = 'auth-purge';

export interface PurgeResult {
  /** True when another instance held the purge lock, so nothing was done. */
  skipped: boolean;
  revokedTokens: number;
  sessions: number;
  /** Failed-login rows older than the throttling window. */
  loginFailures: number;
  /** Rate-limit hits (registrations) whose window has passed. */
  rateLimitHits: number;
  /** Tombstones of deleted users older than the session retention (their tokens have long expired). */
  deletedUsers: number;
  /** Batches run (each one collect and, when it found rows, one delete). */
  statements: number;
  /** Password-reset and verification tokens past their expiry (never used). */
  accountTokens: number;
  /** Second steps of sign-ins (mfaTokens) past their expiry, never completed. */
  mfaChallenges: number;
  /** Passkey challenges (options never answered) past their expiry. */
  webauthnChallenges: number;
  /** Sign-ins at OpenID providers never back, and their one-time codes never exchanged, past their expiry. */
  oidcSignIns: number;
  /** Security events older than `eventRetention`. */
  events: number;
  /** Signing keys retired: no live token can have been signed with them. */
  signingKeys: number;
}

/**
 * Deletes denylist rows of expired tokens and long-ended sessions, on a schedule and on demand.
 *
 * The module does not import `ScheduleModule.forRoot()`: a second one beside the host's would
 * explore every provider again and run each of the host's `@Cron`/`@Interval` jobs twice. The
 * purge's cron job is this service's own (the `cron` package that @nestjs/schedule runs on), and
 * joins the host's `SchedulerRegistry` as `auth-purge` when the host has one.
 */
@Injectable()
export class PurgeService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(PurgeService.name);
  private job: CronJob | undefined;

  constructor(
    private readonly purges: PurgeRepository,
    private readonly rotation: KeyRotationService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
    /** The host's, when it imports ScheduleModule.forRoot(). */
    @Optional() private readonly scheduler?: SchedulerRegistry,
  ) {}

  /** The scheduled job while the app runs (undefined with `purgeCron: false`). */
  get scheduledJob(): CronJob | undefined {
    return this.job;
  }

  onApplicationBootstrap(): void {
    if (this.options.purgeCron === false) return;
    this.job = CronJob.from({
      cronTime: this.options.purgeCron,
      onTick: () => void this.runScheduled(),
      start: true,
    });
    if (this.scheduler && !this.scheduler.doesExist('cron', PURGE_JOB_NAME)) {
      this.scheduler.addCronJob(PURGE_JOB_NAME, this.job);
    }
  }

  onModuleDestroy(): void {
    const job = this.job;
    if (!job) return;
    void job.stop();
    this.job = undefined;
    if (this.scheduler?.doesExist('cron', PURGE_JOB_NAME) && this.scheduler.getCronJob(PURGE_JOB_NAME) === job) {
      this.scheduler.deleteCronJob(PURGE_JOB_NAME);
    }
  }

  /**
   * One purge pass; only one instance purges at a time (PostgreSQL advisory lock). `retireKeys:
   * false` leaves the signing keys alone (the operator CLI, when it does not know the app's token
   * lifetimes, which say when a key can go).
   */
  async purgeExpired(options: { retireKeys?: boolean } = {}): Promise<PurgeResult> {
    const now = this.clock.now();
    const sessionCutoff = new Date(now.getTime() - this.options.sessionRetention * 1000);
    const attemptCutoff = new Date(now.getTime() - this.options.loginLockoutWindow * 1000);
    const eventCutoff = new Date(now.getTime() - this.options.eventRetention * 1000);
    const batch = this.options.purgeBatchSize;
    const result = await this.purges.withPurgeLock(async (runner) => {
      const tokens = await this.drain((r, n) => this.purges.deleteExpiredRevokedTokens(r, now, n), runner, batch);
      const sessions = await this.drain((r, n) => this.purges.deleteEndedSessions(r, sessionCutoff, n), runner, batch);
      const attempts = await this.drain(
        (r, n) => this.purges.deleteOldLoginFailures(r, attemptCutoff, n),
        runner,
        batch,
      );
      const hits = await this.drain((r, n) => this.purges.deleteExpiredRateLimitHits(r, now, n), runner, batch);
      const accountTokens = await this.drain(
        (r, n) => this.purges.deleteExpiredAccountTokens(r, now, n),
        runner,
        batch,
      );
      const mfaChallenges = await this.drain(
        (r, n) => this.purges.deleteExpiredMfaChallenges(r, now, n),
        runner,
        batch,
      );
      const webauthnChallenges = await this.drain(
        (r, n) => this.purges.deleteExpiredWebAuthnChallenges(r, now, n),
        runner,
        batch,
      );
      const oidcTransactions = await this.drain(
        (r, n) => this.purges.deleteExpiredOidcTransactions(r, now, n),
        runner,
        batch,
      );
      const oidcLoginCodes = await this.drain(
        (r, n) => this.purges.deleteExpiredOidcLoginCodes(r, now, n),
        runner,
        batch,
      );
      const events = await this.drain((r, n) => this.purges.deleteOldEvents(r, eventCutoff, n), runner, batch);
      // A tombstone must outlive the deleted user's access tokens: sessionRetention is at least their lifetime.
      const tombstones = await this.drain(
        (r, n) => this.purges.deleteOldTombstones(r, sessionCutoff, n),
        runner,
        batch,
      );
      return {
        revokedTokens: tokens.deleted,
        sessions: sessions.deleted,
        loginFailures: attempts.deleted,
        rateLimitHits: hits.deleted,
        deletedUsers: tombstones.deleted,
        accountTokens: accountTokens.deleted,
        mfaChallenges: mfaChallenges.deleted,
        webauthnChallenges: webauthnChallenges.deleted,
        oidcSignIns: oidcTransactions.deleted + oidcLoginCodes.deleted,
        events: events.deleted,
        statements: [
          tokens,
          sessions,
          attempts,
          hits,
          tombstones,
          accountTokens,
          mfaChallenges,
          webauthnChallenges,
          oidcTransactions,
          oidcLoginCodes,
          events,
        ].reduce((sum, part) => sum + part.statements, 0),
      };
    });
    // Under the keys' own lock, after the purge lock is released.
    const signingKeys = result && options.retireKeys !== false ? (await this.rotation.retire()).length : 0;
    return result
      ? { skipped: false, ...result, signingKeys }
      : {
          skipped: true,
          revokedTokens: 0,
          sessions: 0,
          loginFailures: 0,
          rateLimitHits: 0,
          deletedUsers: 0,
          accountTokens: 0,
          mfaChallenges: 0,
          webauthnChallenges: 0,
          oidcSignIns: 0,
          events: 0,
          statements: 0,
          signingKeys: 0,
        };
  }

  private async drain(
    deleteBatch: (runner: QueryRunner, limit: number) => Promise<number>,
    runner: QueryRunner,
    limit: number,
  ): Promise<{ deleted: number; statements: number }> {
    let deleted = 0;
    let statements = 0;
    for (;;) {
      const started = performance.now();
      const count = await deleteBatch(runner, limit);
      deleted += count;
      statements += 1;
      if (count < limit) return { deleted, statements };
      // Leave the database room for the requests it serves meanwhile: rest at least as long as the
      // batch took, so that a large purge uses at most about half of a core (login p99 during it).
      await sleep(Math.max(this.options.purgeBatchPauseMs, performance.now() - started));
    }
  }

  private async runScheduled(): Promise<void> {
    try {
      const result = await this.purgeExpired();
      const total =
        result.revokedTokens +
        result.sessions +
        result.loginFailures +
        result.rateLimitHits +
        result.deletedUsers +
        result.accountTokens +
        result.signingKeys;
      if (!result.skipped && total > 0) {
        this.logger.log(
          `Purged ${result.revokedTokens} revoked tokens, ${result.sessions} sessions, ${result.loginFailures} failed logins, ${result.rateLimitHits} rate-limit hits, ${result.deletedUsers} tombstones, ${result.accountTokens} expired account tokens, ${result.signingKeys} signing keys`,
        );
      }
    } catch (error) {
      this.logger.error(`Purge failed: ${(error as Error).message}`);
    }
  }
}
