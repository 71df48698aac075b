import { Inject, Injectable } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import { SessionRepository } from './session.repository.js';

/** How stale `last_used_at` may get: guarded requests write it at most this often per session. */
export const LAST_USED_WRITE_INTERVAL_MS = 60_000;
/** Bound on the per-instance memory of recent writes. */
const MAX_REMEMBERED_SESSIONS = 100_000;

/**
 * Keeps `sessions.last_used_at` roughly current without a database write on every request: each
 * instance remembers the stored value it last saw, and goes to the database only once that is a
 * minute old. The UPDATE itself only applies when the stored value is a minute old, so several
 * instances together still write a row at most once a minute.
 */
@Injectable()
export class SessionActivityService {
  /** Session id → last_used_at as last seen in the database (ms). */
  private readonly lastSeen = new Map<string, number>();

  constructor(
    private readonly sessions: SessionRepository,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  touch(sessionId: string): Promise<void> | undefined {
    const now = this.clock.now();
    const last = this.lastSeen.get(sessionId);
    // Nothing to write, and (on the guard's hot path) no promise either.
    if (last !== undefined && now.getTime() - last < LAST_USED_WRITE_INTERVAL_MS) return undefined;
    return this.write(sessionId, now);
  }

  private async write(sessionId: string, now: Date): Promise<void> {
    const stored = await this.sessions.touch(sessionId, now, LAST_USED_WRITE_INTERVAL_MS);
    if (stored) this.remember(sessionId, stored);
    else this.lastSeen.delete(sessionId);
  }

  /** Login and refresh write last_used_at themselves; remembering it saves the first touch. */
  remember(sessionId: string, lastUsedAt: Date): void {
    if (this.lastSeen.size >= MAX_REMEMBERED_SESSIONS) this.lastSeen.clear();
    this.lastSeen.set(sessionId, lastUsedAt.getTime());
  }
}
