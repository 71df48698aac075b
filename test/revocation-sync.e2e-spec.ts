import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AUTH_ENTITIES,
  AuthModule,
  RevocationListenerMismatchError,
  RevocationService,
  RevocationSyncService,
} from '../src/auth/index.js';
import { NotificationListener } from '../src/auth/notifications/notification-listener.service.js';
import { NotificationSigner } from '../src/auth/notifications/notification-signer.js';
import { RevocationStateRepository } from '../src/auth/revocation/revocation-state.repository.js';
import { REVOCATION_CHANNEL } from '../src/auth/revocation/revocation-events.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, Latch } from './support/latch.js';
import {
  bearer,
  login,
  registerAndLogin,
  startApp,
  TEST_SECRET,
  type TestApp,
  startTwoInstances,
  statusOf,
  type TwoInstances,
} from './support/test-app.js';

/**
 * What the in-memory revocation state may and may not trust. Each test pins a piece of the design
 * that the outcome alone (a 401, which the database fallback also gives) would not show.
 */
describe('the in-memory revocation state on two instances', () => {
  const clock = new FakeClock();
  let instances: TwoInstances;
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    instances = await startTwoInstances(clock);
    ({ database, a, b } = instances);
  });
  afterAll(() => instances.close());
  afterEach(() => {
    jest.restoreAllMocks();
  });

  const status = statusOf;
  const syncOf = (app: TestApp) => app.app.get(RevocationSyncService);
  const checksOf = (app: TestApp) => app.app.get(RevocationService).databaseChecks;
  /** Signed with the channel's key: what the module (or a replay of what it sent) puts on the channel. */
  const notify = (payload: string) =>
    a.dataSource.query('SELECT pg_notify($1, $2)', [
      REVOCATION_CHANNEL,
      a.app.get(NotificationSigner, { strict: false }).sign(payload),
    ]);

  it('answers ordinary routes from memory: a revocation written in SQL without a notification is not seen there, but is on strict routes', async () => {
    const user = await registerAndLogin(a.http);
    await a.dataSource.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'by hand' WHERE id = $1`, [
      user.sessionId,
    ]);
    const checks = checksOf(b);
    expect(await status(b, user.accessToken)).toBe(200);
    expect(checksOf(b)).toBe(checks);
    expect(await status(b, user.accessToken, '/profile/strict')).toBe(401);
    expect(checksOf(b)).toBe(checks + 1);
  });

  it('checks a strict route in the database even for a token this instance verified before (fast path)', async () => {
    const user = await registerAndLogin(a.http);
    expect(await status(b, user.accessToken)).toBe(200);
    expect(await status(b, user.accessToken)).toBe(200);
    await a.dataSource.query(`UPDATE sessions SET revoked_at = now(), revoked_reason = 'by hand' WHERE id = $1`, [
      user.sessionId,
    ]);
    expect(await status(b, user.accessToken, '/profile/strict')).toBe(401);
  });

  it('propagates a revocation by notification, answered from memory, on the same listening connection', async () => {
    const sync = syncOf(b);
    const pid = sync.listenerBackendPid;
    const loads = sync.loadCount;
    const user = await registerAndLogin(a.http);
    const checks = checksOf(b);
    await a.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    await eventually(async () => (await status(b, user.accessToken)) === 401, 1_000);
    expect(checksOf(b)).toBe(checks);
    expect(sync.status).toBe('live');
    expect(sync.listenerBackendPid).toBe(pid);
    expect(sync.loadCount).toBe(loads);
  });

  it('logout-all of one user leaves every other user alone (sessions, refresh, strict routes)', async () => {
    const leaving = await registerAndLogin(a.http);
    const staying = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout-all')
      .set(...bearer(leaving.accessToken))
      .expect(204);
    expect(await status(a, staying.accessToken, '/profile/strict')).toBe(200);
    const listed = await a.http
      .get('/auth/sessions')
      .set(...bearer(staying.accessToken))
      .expect(200);
    expect(listed.body.map((session: { id: string }) => session.id)).toEqual([staying.sessionId]);
    await b.http.post('/auth/refresh').send({ refreshToken: staying.refreshToken }).expect(200);
  });

  it('takes no notification at its word: a forged far-future cut-off changes nothing, and the listener stays', async () => {
    const user = await registerAndLogin(a.http);
    const sync = syncOf(b);
    const pid = sync.listenerBackendPid;
    const loads = sync.loadCount;
    // Even signed (a holder of the channel's key, a replay): the old format carried the cut-off itself.
    await notify(JSON.stringify({ k: 'u', u: user.userId, v: 9_999_999_999_999 }));
    await notify(JSON.stringify({ k: 's', i: [user.sessionId], a: Date.now() }));
    await notify(JSON.stringify({ k: 't', j: '00000000-0000-4000-8000-000000000000', e: 9_999_999_999_999 }));
    // A real revocation after them, to know they have been handled.
    const marker = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout')
      .set(...bearer(marker.accessToken))
      .expect(204);
    await eventually(async () => (await status(b, marker.accessToken)) === 401, 1_000);
    expect(await status(b, user.accessToken)).toBe(200);
    expect(sync.listenerBackendPid).toBe(pid);
    expect(sync.loadCount).toBe(loads);
  });

  it("fails closed on a signed notification it cannot read (a newer version's?), then resynchronises by itself", async () => {
    const sync = syncOf(b);
    const loads = sync.loadCount;
    await notify('{"something":"else"}');
    await eventually(() => sync.status !== 'live', 1_000);
    await eventually(() => sync.status === 'live' && sync.loadCount === loads + 1, 5_000);
  });

  it('never stays live on a notification it could not confirm: it falls back to the database and reloads', async () => {
    const user = await registerAndLogin(a.http);
    expect(await status(b, user.accessToken)).toBe(200);
    const sync = syncOf(b);
    const loads = sync.loadCount;
    // The logout's two hints (its session, its token) both fail to be confirmed on B.
    const confirm = jest
      .spyOn(b.app.get(RevocationStateRepository, { strict: false }), 'confirm')
      .mockRejectedValueOnce(new Error('connection reset'))
      .mockRejectedValueOnce(new Error('connection reset'));
    await a.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    await eventually(() => confirm.mock.calls.length >= 2, 1_000);
    // Whatever B's state at each moment, the revoked token is refused from here on.
    await eventually(async () => (await status(b, user.accessToken)) === 401, 1_000);
    await eventually(() => sync.status === 'live' && sync.loadCount === loads + 1, 5_000);
    expect(await status(b, user.accessToken)).toBe(401);
  });

  it('notices a listener that stops receiving (UNLISTEN) within 2 s, and replaces it', async () => {
    const sync = syncOf(b);
    const pid = sync.listenerBackendPid;
    // The connection stays healthy for queries (SELECT 1 would succeed) but hears nothing more.
    const listener = b.app.get(NotificationListener, { strict: false });
    const client = (listener as unknown as { client: { query(sql: string): Promise<unknown> } }).client;
    await client.query('UNLISTEN *');
    const detectedAfter = await eventually(() => sync.status !== 'live', 3_000);
    expect(detectedAfter).toBeLessThan(2_000);
    await eventually(() => sync.status === 'live' && sync.listenerBackendPid !== pid, 5_000);
    // And it hears revocations again.
    const user = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    await eventually(async () => (await status(b, user.accessToken)) === 401, 1_000);
  });

  it('applies notifications that arrive while it reloads', async () => {
    // Make sure the denylist is not empty, then hold B's reload after its snapshot was read.
    const before = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout')
      .set(...bearer(before.accessToken))
      .expect(204);
    const victim = await registerAndLogin(a.http);
    const repository = b.app.get(RevocationStateRepository, { strict: false });
    const original = repository.loadActive.bind(repository);
    const held = new Latch();
    jest.spyOn(repository, 'loadActive').mockImplementationOnce(async (now, horizon, target) => {
      const replay: Array<() => void> = [];
      await original(now, horizon, {
        apply: (event) => replay.push(() => target.apply(event)),
        applyTokenPage: (page) => replay.push(() => target.applyTokenPage(page)),
      });
      // The snapshot is taken; what is revoked now reaches B only as a notification.
      await held.hold();
      for (const step of replay) step();
    });
    const sync = syncOf(b);
    await a.dataSource.query('SELECT pg_terminate_backend($1)', [sync.listenerBackendPid]);
    await held.reached;
    await a.http
      .post('/auth/logout')
      .set(...bearer(victim.accessToken))
      .expect(204);
    // The notification arrives and is confirmed while the load is held: it waits to be applied.
    const pending = () => (sync as unknown as { pending: unknown[] | null }).pending?.length ?? 0;
    await eventually(() => pending() > 0, 2_000);
    held.release();
    await eventually(() => sync.status === 'live', 5_000);
    const checks = checksOf(b);
    expect(await status(b, victim.accessToken)).toBe(401);
    expect(checksOf(b)).toBe(checks);
  });

  it('a new instance refuses what the others refuse, including cut-offs, bans and revocations up to a token lifetime old', async () => {
    const revoked = await registerAndLogin(a.http);
    const other = await login(a.http, revoked.email);
    await a.http
      .delete(`/auth/sessions/${other.sessionId}`)
      .set(...bearer(revoked.accessToken))
      .expect(204);
    const cut = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout-all')
      .set(...bearer(cut.accessToken))
      .expect(204);
    const banned = await registerAndLogin(a.http);
    await a.app
      .get(RevocationService)
      .revokeAllForUser(banned.userId, { until: new Date(clock.now().getTime() + 86_400_000) });
    // Most of an access-token lifetime later, the tokens have not expired yet.
    clock.advance(840);
    const fresh = await startApp(database.url, { clock });
    try {
      expect(fresh.app.get(RevocationSyncService).status).toBe('live');
      for (const token of [other.accessToken, cut.accessToken, banned.accessToken]) {
        expect(await status(fresh, token)).toBe(401);
      }
      expect(fresh.app.get(RevocationService).databaseChecks).toBe(0);
      expect(await status(fresh, revoked.accessToken)).toBe(200);
    } finally {
      await fresh.close();
    }
  });
});

describe('loading the state in pages', () => {
  it('reads every denied token across pages, whatever the page size', async () => {
    const clock = new FakeClock();
    const database = await createTestDatabase();
    const app = await startApp(database.url, { clock });
    try {
      for (let i = 0; i < 7; i += 1) {
        const user = await registerAndLogin(app.http);
        await app.http
          .post('/auth/logout')
          .set(...bearer(user.accessToken))
          .expect(204);
      }
      const expected = (
        (await app.dataSource.query(`SELECT jti::text AS jti FROM revoked_tokens WHERE expires_at > $1`, [
          clock.now(),
        ])) as Array<{ jti: string }>
      )
        .map((row) => row.jti)
        .sort();
      expect(expected).toHaveLength(7);
      const repository = app.app.get(RevocationStateRepository, { strict: false });
      for (const pageSize of [1, 2, 3, 7, 100]) {
        const pages: string[] = [];
        await repository.loadActive(
          clock.now(),
          clock.now(),
          { apply: () => {}, applyTokenPage: (page) => pages.push(page) },
          pageSize,
        );
        const read = pages
          .flatMap((page) => page.match(/.{40}/g) ?? [])
          .map((record) => record.slice(0, 32).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'))
          .sort();
        expect(`page size ${pageSize}: ${read.join(',')}`).toBe(`page size ${pageSize}: ${expected.join(',')}`);
      }
    } finally {
      await app.close();
      await database.drop();
    }
  });
});

describe('a listener that cannot hear the pool', () => {
  it('refuses to start, naming the problem', async () => {
    const database = await createTestDatabase();
    const elsewhere = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
        AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: false, revocationListenerUrl: elsewhere.url }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    try {
      const failure = await app.init().then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(RevocationListenerMismatchError);
      expect((failure as Error).message).toMatch(/same PostgreSQL database/);
    } finally {
      await app.close().catch(() => {});
      await database.drop();
      await elsewhere.drop();
    }
  });
});
