import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { encodeEvent } from '../revocation/revocation-events.js';
import { NotificationListener } from './notification-listener.service.js';
import type { NotificationRepository } from './notification.repository.js';
import { NotificationSigner } from './notification-signer.js';

/**
 * The heartbeat's deadline, on the clock alone (the round trip through PostgreSQL is the e2e
 * specs'): a listener that receives nothing is given up at the deadline; one that keeps
 * receiving other notifications is behind a backlog, not dead, and is given a bounded extra time.
 */
describe('NotificationListener heartbeat deadline', () => {
  const signer = NotificationSigner.fromOptions({ notificationSecret: 'a-notification-secret-of-at-least-32-bytes' });
  let sent: string[];
  let listener: NotificationListener;
  const internals = () =>
    listener as unknown as {
      roundTrip(timeoutMs: number): Promise<void>;
      receive(generation: number, payload: string): void;
    };
  const deliver = (body: string) => internals().receive(listener.epoch, signer.sign(body));
  /** A heartbeat round trip of 100 ms started now; `outcome` is 'received' or the error, once settled. */
  const roundTrip = () => {
    const heartbeat: { outcome?: string } = {};
    void internals()
      .roundTrip(100)
      .then(
        () => (heartbeat.outcome = 'received'),
        (error: Error) => (heartbeat.outcome = error.message),
      );
    return heartbeat;
  };
  const other = () =>
    deliver(encodeEvent({ kind: 'token', jti: '00000000-0000-4000-8000-000000000001', expiresAt: 0 }));

  beforeEach(() => {
    jest.useFakeTimers();
    sent = [];
    const notifications = {
      notifyThroughPool: async (body: string) => void sent.push(body),
    } as unknown as NotificationRepository;
    listener = new NotificationListener(
      {} as DataSource,
      notifications,
      { revocationHeartbeatMs: 100 } as ResolvedAuthOptions,
      signer,
    );
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('gives up a heartbeat that does not come back within the deadline when nothing arrives', async () => {
    const outcome = internals()
      .roundTrip(100)
      .then(
        () => 'received',
        (error: Error) => error.message,
      );
    await jest.advanceTimersByTimeAsync(101);
    expect(await outcome).toBe('heartbeat not received in time');
  });

  it('waits, for a bounded time, for a heartbeat queued behind notifications that keep arriving', async () => {
    const heartbeat = roundTrip();
    await jest.advanceTimersByTimeAsync(0);
    // A backlog: other notifications arrive every 50 ms, the heartbeat behind them.
    for (let elapsed = 0; elapsed < 1_000; elapsed += 50) {
      other();
      await jest.advanceTimersByTimeAsync(50);
    }
    expect(heartbeat.outcome).toBeUndefined();
    deliver(sent[0]);
    await jest.advanceTimersByTimeAsync(0);
    expect(heartbeat.outcome).toBe('received');
  });

  it('tells its subscribers, once per interval, that it is behind while a backlog holds its heartbeat', async () => {
    const behind: number[] = [];
    listener.subscribe({
      receive: () => {},
      resync: async () => {},
      lost: () => {},
      behind: (epoch) => behind.push(epoch),
    });
    void internals()
      .roundTrip(100)
      .catch(() => {});
    await jest.advanceTimersByTimeAsync(0);
    for (let elapsed = 0; elapsed < 500; elapsed += 50) {
      other();
      await jest.advanceTimersByTimeAsync(50);
    }
    // Late at 100, 200, 300, 400 and 500 ms, with notifications arriving each time.
    expect(behind).toEqual([listener.epoch, listener.epoch, listener.epoch, listener.epoch, listener.epoch]);
    deliver(sent[0]);
    await jest.advanceTimersByTimeAsync(300);
    expect(behind).toHaveLength(5);
  });

  it('gives up even a listener that keeps receiving, once the backlog is longer than the tolerance', async () => {
    const heartbeat = roundTrip();
    for (let elapsed = 0; elapsed < 3_000 && heartbeat.outcome === undefined; elapsed += 50) {
      other();
      await jest.advanceTimersByTimeAsync(50);
    }
    expect(heartbeat.outcome).toBe('heartbeat not received in time');
  });
});
