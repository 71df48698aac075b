import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { RevocationService, RevocationSyncService, SigningKeys } from '../src/auth/index.js';
import { SigningKeysSubscriber } from '../src/auth/keys/signing-keys.subscriber.js';
import { NotificationListener } from '../src/auth/notifications/notification-listener.service.js';
import { NotificationSigner } from '../src/auth/notifications/notification-signer.js';
import { encodeEvent, encodeKeysChanged, REVOCATION_CHANNEL } from '../src/auth/revocation/revocation-events.js';
import { RevocationStateRepository } from '../src/auth/revocation/revocation-state.repository.js';
import { MAX_CONFIRMING, MAX_WAITING_CONFIRMATIONS } from '../src/auth/revocation/revocation-sync.service.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, Latch } from './support/latch.js';
import {
  bearer,
  registerAndLogin,
  startTwoInstances,
  statusOf,
  type TestApp,
  type TwoInstances,
} from './support/test-app.js';

/**
 * Any role that can connect may NOTIFY on the channel. What the module did not sign costs a
 * receiver one HMAC and nothing else; what it did sign (and may be replayed) costs bounded work.
 * The floods are sent by a raw pg client, as an attacker would, while instance A does real work.
 */
describe('a flood on the notification channel', () => {
  const clock = new FakeClock();
  let instances: TwoInstances;
  let a: TestApp;
  let b: TestApp;
  let attacker: pg.Client;
  beforeAll(async () => {
    instances = await startTwoInstances(clock);
    ({ a, b } = instances);
    attacker = new pg.Client({ connectionString: instances.database.url });
    await attacker.connect();
  });
  afterAll(async () => {
    await attacker.end();
    await instances.close();
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const syncOf = (app: TestApp) => app.app.get(RevocationSyncService);
  const listenerOf = (app: TestApp) => app.app.get(NotificationListener, { strict: false });
  const keysOf = (app: TestApp) => app.app.get(SigningKeys);
  /** The instances' own signer: what a holder of the channel's key (or a replay) sends. */
  const sign = (body: string) => a.app.get(NotificationSigner, { strict: false }).sign(body);
  /** Many payloads in one statement (each distinct: PostgreSQL folds identical ones in a transaction). */
  const flood = (payloads: string[]) =>
    attacker.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [REVOCATION_CHANNEL, payloads]);
  /** A real logout on A, seen on B: every notification sent before it has been handled there. */
  const logoutSeenOnB = async () => {
    const marker = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout')
      .set(...bearer(marker.accessToken))
      .expect(204);
    return eventually(async () => (await statusOf(b, marker.accessToken)) === 401, 2_000);
  };

  it('drops unsigned, badly signed and unreadable payloads unread: no query, no reload, no fallback, and a real logout still arrives', async () => {
    const user = await registerAndLogin(a.http);
    const sync = syncOf(b);
    const listener = listenerOf(b);
    const confirm = jest.spyOn(b.app.get(RevocationStateRepository, { strict: false }), 'confirm');
    const before = {
      loads: sync.loadCount,
      keyLoads: keysOf(b).loads,
      confirmations: sync.confirmationCount,
      dropped: listener.droppedNotifications,
      pid: sync.listenerBackendPid,
    };
    const other = NotificationSigner.fromOptions({ notificationSecret: 'an-attacker-guess-of-at-least-32-bytes' });
    const unsigned = Array.from({ length: 300 }, (_, index) =>
      index % 3 === 0
        ? encodeEvent({ kind: 'user', userId: user.userId, validAfter: index })
        : encodeEvent({ kind: 'token', jti: randomUUID(), expiresAt: index }),
    );
    const badlySigned = Array.from({ length: 100 }, () =>
      other.sign(encodeEvent({ kind: 'sessions', ids: [user.sessionId, randomUUID()], revokedAt: 0 })),
    );
    const keyNotices = Array.from({ length: 100 }, (_, index) => `{"k":"K","n":${index}}`);
    // A real signed payload with its tag moved to another body, and plain junk.
    const genuine = sign(encodeKeysChanged());
    const moved = Array.from({ length: 50 }, () => genuine.replace('{"k":"K"', `{"k":"u","u":"${randomUUID()}"`));
    const unreadable = Array.from({ length: 100 }, (_, index) => `not json ${index} ${randomUUID()}`);
    const sent = [...unsigned, ...badlySigned, ...keyNotices, ...moved, ...unreadable];
    await flood(sent);

    await logoutSeenOnB();
    // PostgreSQL folds identical payloads sent in one transaction into one.
    expect(listener.droppedNotifications - before.dropped).toBe(new Set(sent).size);
    expect(sync.status).toBe('live');
    expect(sync.listenerBackendPid).toBe(before.pid);
    expect(sync.loadCount).toBe(before.loads);
    expect(keysOf(b).loads).toBe(before.keyLoads);
    // Only the marker's own two hints (its session, its token) were confirmed.
    expect(sync.confirmationCount - before.confirmations).toBe(2);
    expect(confirm.mock.calls.map(([hint]) => hint.kind).sort()).toEqual(['sessions', 'token']);
    expect(await statusOf(b, user.accessToken)).toBe(200);
  });

  it('behind a backlog, reads recent revocations from the database: a logout whose notification is still queued is refused, from memory, at once', async () => {
    const user = await registerAndLogin(a.http);
    await b.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(200);
    const sync = syncOf(b);
    // The logout's notification is held back on B, as behind a flood it would be.
    const held = jest.spyOn(sync, 'receive').mockImplementation(() => {});
    await a.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    // Its notifications reached B and were held (the session's, the token's).
    await eventually(() => held.mock.calls.length >= 2);
    expect(await statusOf(b, user.accessToken)).toBe(200);
    const catchUps = sync.catchUpCount;
    const checks = b.app.get(RevocationService).databaseChecks;
    // What the listener says once per heartbeat while a backlog holds its heartbeat back.
    sync.behind(listenerOf(b).epoch);
    await eventually(async () => (await statusOf(b, user.accessToken)) === 401, 2_000);
    expect(sync.catchUpCount).toBe(catchUps + 1);
    expect(sync.status).toBe('live');
    // Refused from memory, not by the database.
    expect(b.app.get(RevocationService).databaseChecks).toBe(checks);
    held.mockRestore();
  });

  it('a burst of genuine (replayed) key notices reloads the keys at most twice', async () => {
    const keys = keysOf(b);
    const before = keys.loads;
    const notice = sign(encodeKeysChanged());
    // One statement each: identical payloads in one transaction would be folded into one.
    for (let index = 0; index < 50; index += 1) {
      await attacker.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, notice]);
    }
    await logoutSeenOnB();
    const subscriber = b.app.get(SigningKeysSubscriber, { strict: false });
    const pending = keys as unknown as { reloading: Promise<void> | null; reloadAgain: Promise<void> | null };
    await eventually(() => !subscriber.reloadWaiting && pending.reloading === null && pending.reloadAgain === null);
    expect(keys.loads - before).toBeGreaterThanOrEqual(1);
    expect(keys.loads - before).toBeLessThanOrEqual(2);
    expect(syncOf(b).status).toBe('live');
  });

  it('confirms replayed hints a few at a time, and once for hints naming the same thing', async () => {
    const user = await registerAndLogin(a.http);
    const sync = syncOf(b);
    const repository = b.app.get(RevocationStateRepository, { strict: false });
    const original = repository.confirm.bind(repository);
    let running = 0;
    let most = 0;
    const held = new Latch();
    jest.spyOn(repository, 'confirm').mockImplementation(async (hint) => {
      running += 1;
      most = Math.max(most, running);
      try {
        await held.hold();
        return await original(hint);
      } finally {
        running -= 1;
      }
    });
    const before = sync.confirmationCount;
    const distinct = Array.from({ length: 200 }, () =>
      sign(encodeEvent({ kind: 'token', jti: randomUUID(), expiresAt: 0 })),
    );
    await flood(distinct);
    // The same genuine hint, replayed: each is its own transaction, so PostgreSQL delivers every one.
    const replayed = sign(encodeEvent({ kind: 'user', userId: user.userId, validAfter: 0 }));
    for (let index = 0; index < 30; index += 1) {
      await attacker.query('SELECT pg_notify($1, $2)', [REVOCATION_CHANNEL, replayed]);
    }
    await held.reached;
    await eventually(() => running === MAX_CONFIRMING);
    held.release();
    await logoutSeenOnB();
    expect(most).toBe(MAX_CONFIRMING);
    // 200 distinct, the replayed one once (all 30 arrived while the first still waited), and the
    // marker's two.
    expect(sync.confirmationCount - before).toBe(200 + 1 + 2);
    expect(sync.status).toBe('live');
  });

  it('past the bound of waiting confirmations, falls back to the database and reloads once, never queueing without end', async () => {
    const victim = await registerAndLogin(a.http);
    const sync = syncOf(b);
    const loads = sync.loadCount;
    const repository = b.app.get(RevocationStateRepository, { strict: false });
    const original = repository.confirm.bind(repository);
    const held = new Latch();
    jest.spyOn(repository, 'confirm').mockImplementation(async (hint) => {
      await held.hold();
      return original(hint);
    });
    const before = sync.confirmationCount;
    await flood(
      Array.from({ length: MAX_WAITING_CONFIRMATIONS + MAX_CONFIRMING + 1 }, () =>
        sign(encodeEvent({ kind: 'token', jti: randomUUID(), expiresAt: 0 })),
      ),
    );
    await eventually(() => sync.status !== 'live', 5_000);
    // Revoked meanwhile: B is not live, so the database answers.
    await a.http
      .post('/auth/logout')
      .set(...bearer(victim.accessToken))
      .expect(204);
    expect(await statusOf(b, victim.accessToken)).toBe(401);
    held.release();
    await eventually(() => sync.status === 'live', 5_000);
    expect(sync.loadCount).toBe(loads + 1);
    expect(sync.confirmationCount - before).toBeLessThanOrEqual(MAX_CONFIRMING + 2);
    expect(await statusOf(b, victim.accessToken)).toBe(401);
  });
});
