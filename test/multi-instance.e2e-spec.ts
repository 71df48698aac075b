import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AUTH_ENTITIES, AuthModule, RevocationService, RevocationSyncService } from '../src/auth/index.js';
import { NotificationSigner } from '../src/auth/notifications/notification-signer.js';
import { encodeEvent, REVOCATION_CHANNEL } from '../src/auth/revocation/revocation-events.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { FakeClock } from './support/fake-clock.js';
import { bearer, login, registerAndLogin, startApp, TEST_SECRET, type TestApp } from './support/test-app.js';

/** Polls (bounded) until `check` holds; returns how long it took. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 2_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

describe('revocation across instances sharing one PostgreSQL', () => {
  let database: TestDatabase;
  const clock = new FakeClock();
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startApp(database.url, { clock });
    b = await startApp(database.url, { clock });
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await database.drop();
  });

  const status = async (app: TestApp, token: string, path = '/profile') =>
    (await app.http.get(path).set(...bearer(token))).status;
  const refusedOn = (app: TestApp, token: string) => async () => (await status(app, token)) === 401;

  it('both answer from memory while their listeners are live', () => {
    expect(a.app.get(RevocationSyncService).status).toBe('live');
    expect(b.app.get(RevocationSyncService).status).toBe('live');
  });

  it('a logout on one is refused on the other', async () => {
    const user = await registerAndLogin(a.http);
    expect(await status(b, user.accessToken)).toBe(200);
    await a.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    expect(await status(a, user.accessToken)).toBe(401); // at once on the revoking instance
    await eventually(refusedOn(b, user.accessToken));
  });

  it('a logout-all on one is refused on the other, for every session', async () => {
    const user = await registerAndLogin(a.http);
    const other = await login(b.http, user.email);
    clock.advance(0.001);
    await b.http
      .post('/auth/logout-all')
      .set(...bearer(other.accessToken))
      .expect(204);
    await eventually(refusedOn(a, user.accessToken));
    await eventually(refusedOn(a, other.accessToken));
  });

  it('a device revocation on one is refused on the other', async () => {
    const user = await registerAndLogin(a.http);
    const phone = await login(a.http, user.email, 'phone');
    await a.http
      .delete(`/auth/sessions/${phone.sessionId}`)
      .set(...bearer(user.accessToken))
      .expect(204);
    await eventually(refusedOn(b, phone.accessToken));
    expect(await status(b, user.accessToken)).toBe(200);
  });

  it('a rolled-back revocation leaves no trace, in the database or in any memory', async () => {
    const user = await registerAndLogin(a.http);
    // Through the module: the denylist insert fails (not a uuid), so the session update rolls back too.
    await expect(
      a.app
        .get(RevocationService)
        .revokeSessionAndToken(user.userId, user.sessionId, { jti: 'not-a-uuid', expiresAt: clock.now() }, 'logout'),
    ).rejects.toThrow();
    // And by hand: a NOTIFY inside a transaction that rolls back is never delivered.
    const runner = a.dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    await runner.query('SELECT pg_notify($1, $2)', [
      REVOCATION_CHANNEL,
      a.app
        .get(NotificationSigner, { strict: false })
        .sign(encodeEvent({ kind: 'sessions', ids: [user.sessionId], revokedAt: clock.now().getTime() })),
    ]);
    await runner.rollbackTransaction();
    await runner.release();
    // A later committed revocation of another user, to know that notifications have flowed past.
    const marker = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout')
      .set(...bearer(marker.accessToken))
      .expect(204);
    await eventually(refusedOn(b, marker.accessToken));

    expect(await status(a, user.accessToken)).toBe(200);
    expect(await status(b, user.accessToken)).toBe(200);
    const [row] = await a.dataSource.query('SELECT revoked_at FROM sessions WHERE id = $1', [user.sessionId]);
    expect(row.revoked_at).toBeNull();
  });

  it('killing the listening connection never lets a revoked token through', async () => {
    const before = await registerAndLogin(a.http);
    await a.http
      .post('/auth/logout')
      .set(...bearer(before.accessToken))
      .expect(204);
    await eventually(refusedOn(b, before.accessToken));
    const victim = await registerAndLogin(a.http);
    const sync = b.app.get(RevocationSyncService);
    const pid = sync.listenerBackendPid;
    expect(pid).not.toBeNull();

    // Hammer B with the already revoked token throughout the kill and the resynchronisation.
    let leaked = 0;
    let running = true;
    const hammer = (async () => {
      while (running) if ((await status(b, before.accessToken)) !== 401) leaked += 1;
    })();

    await a.dataSource.query('SELECT pg_terminate_backend($1)', [pid]);
    await eventually(async () => sync.status !== 'live');
    // Revoked while B's memory cannot hear it: B checks the database meanwhile.
    await a.http
      .post('/auth/logout')
      .set(...bearer(victim.accessToken))
      .expect(204);
    expect(await status(b, victim.accessToken)).toBe(401);
    // B listens again and reloads; what it missed is in its memory now.
    await eventually(async () => sync.status === 'live' && sync.listenerBackendPid !== pid, 5_000);
    expect(await status(b, victim.accessToken)).toBe(401);

    running = false;
    await hammer;
    expect(leaked).toBe(0);
  });

  it('a new instance refuses already revoked tokens from its first request', async () => {
    const user = await registerAndLogin(a.http);
    const sibling = await login(a.http, user.email);
    await a.http
      .post('/auth/logout')
      .set(...bearer(user.accessToken))
      .expect(204);
    await a.app
      .get(RevocationService)
      .revokeSession(sibling.userId || user.userId, sibling.sessionId, 'device_revoked');
    const fresh = await startApp(database.url, { clock });
    try {
      expect(fresh.app.get(RevocationSyncService).status).toBe('live');
      expect(await status(fresh, user.accessToken)).toBe(401);
      expect(await status(fresh, sibling.accessToken)).toBe(401);
    } finally {
      await fresh.close();
    }
  });
});

describe('a listening connection that dies silently', () => {
  // SIGSTOP freezes the listener's PostgreSQL backend: the socket stays open but nothing answers,
  // as on a half-open TCP connection. Only possible on the embedded server this run started.
  const local = process.env.DATABASE_URL === undefined;
  (local ? it : it.skip)('is found by the heartbeat within twice its interval, then replaced', async () => {
    const database = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
        AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: false, revocationHeartbeatMs: 200 }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const sync = app.get(RevocationSyncService);
    const pid = sync.listenerBackendPid as number;
    try {
      expect(sync.status).toBe('live');
      process.kill(pid, 'SIGSTOP');
      const detectedAfter = await eventually(async () => sync.status !== 'live', 2_000);
      // Twice the interval, plus slack for a busy CI machine.
      expect(detectedAfter).toBeLessThanOrEqual(2 * 200 + 300);
      await eventually(async () => sync.status === 'live' && sync.listenerBackendPid !== pid, 5_000);
    } finally {
      process.kill(pid, 'SIGCONT');
      await app.close();
      await database.drop();
    }
  });
});
