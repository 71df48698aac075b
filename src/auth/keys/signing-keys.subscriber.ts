import { Injectable } from '@nestjs/common';
import {
  type ChannelHint,
  type ChannelSubscriber,
  NotificationListener,
} from '../notifications/notification-listener.service.js';
import { SigningKeys } from './signing-keys.service.js';

/**
 * Least time (ms) between the starts of two reloads asked for by notifications. A notice that
 * comes sooner is answered by one reload at the end of the spacing, shared by every notice until
 * then: a burst of notices (a replayed genuine one, say) costs at most one read in flight and one
 * waiting, about four reads a second while it lasts, and a real change is read within this.
 */
export const KEY_RELOAD_SPACING_MS = 250;

/**
 * Keys travel like revocations: a change to signing_keys is announced on the channel, and the keys
 * are read again after every reconnection, with the same fail-closed listener.
 */
@Injectable()
export class SigningKeysSubscriber implements ChannelSubscriber {
  private lastStart = Number.NEGATIVE_INFINITY;
  /** The reload waiting for the spacing to pass, and the connection whose notice it answers. */
  private scheduled: NodeJS.Timeout | null = null;
  private scheduledEpoch = 0;

  constructor(
    private readonly listener: NotificationListener,
    private readonly keys: SigningKeys,
  ) {
    listener.subscribe(this);
  }

  receive(hint: ChannelHint, epoch: number): void {
    if (hint.kind !== 'keys') return;
    this.scheduledEpoch = epoch;
    // A reload already waiting starts after this notice: it answers this one too.
    if (this.scheduled) return;
    const wait = this.lastStart + KEY_RELOAD_SPACING_MS - performance.now();
    if (wait <= 0) {
      this.reload();
      return;
    }
    this.scheduled = setTimeout(() => this.reload(), wait);
    this.scheduled.unref();
  }

  resync(): Promise<void> {
    return this.keys.reloadAfterReconnect();
  }

  lost(): void {
    // The resynchronisation reads the keys anyway.
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = null;
  }

  /** True while a reload asked for by a notification waits for the spacing to pass. */
  get reloadWaiting(): boolean {
    return this.scheduled !== null;
  }

  /** A reload that fails leaves stale keys in use: fall back and resynchronise. */
  private reload(): void {
    this.scheduled = null;
    this.lastStart = performance.now();
    const epoch = this.scheduledEpoch;
    this.keys.keysChanged().catch((error: Error) => {
      this.listener.fail(epoch, `could not reload the signing keys: ${error.message}`);
    });
  }
}
