import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RolesService } from '../src/auth/index.js';
import { RolesRepository } from '../src/auth/roles/roles.repository.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually, holdNextCall } from './support/latch.js';
import { codeAt, enableTotp } from './support/mfa.js';
import {
  bearer,
  login,
  PASSWORD,
  registerAndLogin,
  startTwoInstances,
  statusOf,
  type TestApp,
  type TwoInstances,
  uniqueEmail,
  type LoggedIn,
} from './support/test-app.js';
import { addPasskey, SoftAuthenticator, TEST_RP } from './support/webauthn.js';

const UNKNOWN_USER = '00000000-0000-4000-8000-000000000000';

/** Every admin route, as a request on a user's id. */
const ROUTES: Array<{ method: 'get' | 'post' | 'delete'; path: (id: string) => string; body?: object }> = [
  { method: 'get', path: () => '/auth/admin/users?query=a' },
  { method: 'get', path: (id) => `/auth/admin/users/${id}` },
  { method: 'post', path: (id) => `/auth/admin/users/${id}/ban`, body: { until: '2099-01-01T00:00:00Z' } },
  { method: 'delete', path: (id) => `/auth/admin/users/${id}/ban` },
  { method: 'post', path: (id) => `/auth/admin/users/${id}/sign-out` },
  { method: 'delete', path: (id) => `/auth/admin/users/${id}/mfa` },
  { method: 'post', path: (id) => `/auth/admin/users/${id}/roles`, body: { add: ['support'] } },
  { method: 'delete', path: (id) => `/auth/admin/users/${id}` },
  { method: 'get', path: (id) => `/auth/admin/events?userId=${id}` },
];

describe('the admin API', () => {
  const clock = new FakeClock();
  let instances: TwoInstances;
  let a: TestApp;
  let b: TestApp;

  /** A user with the admin role, signed in after it was granted. */
  async function newAdmin(): Promise<LoggedIn> {
    const user = await registerAndLogin(a.http, uniqueEmail('admin'));
    await a.app.get(RolesService).change(user.userId, { add: ['admin'] }, {});
    return { ...(await login(a.http, user.email)), userId: user.userId };
  }

  const call = (app: TestApp, token: string, route: (typeof ROUTES)[number], id: string) => {
    const request = app.http[route.method](route.path(id)).set(...bearer(token));
    return route.body ? request.send(route.body) : request;
  };

  /** The admin events of a user, oldest first. */
  const adminEventsOf = async (userId: string) =>
    (
      await a.dataSource.query(
        `SELECT type, actor_kind, actor_id, ip, details FROM auth_events
          WHERE user_id = $1 AND actor_kind = 'admin' ORDER BY id`,
        [userId],
      )
    ).map((row: { type: string }) => row);

  beforeAll(async () => {
    instances = await startTwoInstances(clock);
    ({ a, b } = instances);
  });
  afterAll(async () => {
    await instances.close();
  });

  it('refuses every route to a user without the admin role (403 Insufficient role), and to no token (401)', async () => {
    const user = await registerAndLogin(a.http);
    const target = await registerAndLogin(a.http);
    for (const route of ROUTES) {
      const response = await call(a, user.accessToken, route, target.userId);
      expect({ route: route.path('id'), body: response.body }).toEqual({
        route: route.path('id'),
        body: { statusCode: 403, message: 'Insufficient role', error: 'Forbidden' },
      });
      expect((await a.http[route.method](route.path(target.userId))).status).toBe(401);
    }
    // Nothing happened to the target.
    expect(await statusOf(b, target.accessToken)).toBe(200);
  });

  it('refuses an admin whose sign-in is not recent, until they re-authenticate', async () => {
    const admin = await newAdmin();
    const target = await registerAndLogin(a.http);
    clock.advance(601);
    for (const route of ROUTES) {
      const response = await call(a, admin.accessToken, route, target.userId);
      expect({ route: route.path('id'), message: response.body.message, status: response.status }).toEqual({
        route: route.path('id'),
        message: 'Recent authentication required',
        status: 403,
      });
    }
    const again = await a.http
      .post('/auth/reauthenticate')
      .set(...bearer(admin.accessToken))
      .send({ password: PASSWORD })
      .expect(200);
    await a.http
      .get(`/auth/admin/users/${target.userId}`)
      .set(...bearer(again.body.accessToken))
      .expect(200);
    expect(await statusOf(b, target.accessToken)).toBe(200);
  });

  it('asks an admin who has a second factor to have shown it in this session', async () => {
    const admin = await newAdmin();
    // A passkey added in a session opened with the password alone: that session showed one factor.
    await addPasskey(a.http, admin.accessToken, new SoftAuthenticator(), TEST_RP);
    const refused = await a.http.get('/auth/admin/users?query=x').set(...bearer(admin.accessToken));
    expect(refused.body).toEqual({ statusCode: 403, message: 'Second factor required', error: 'Forbidden' });
    // The app's code after a password: two factors.
    const other = await newAdmin();
    const { secret } = await enableTotp(a.http, other.accessToken, clock);
    const signedIn = await a.http.post('/auth/login').send({ email: other.email, password: PASSWORD }).expect(200);
    const second = await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: signedIn.body.mfaToken, code: codeAt(secret, clock.now()) })
      .expect(200);
    await a.http
      .get('/auth/admin/users?query=x')
      .set(...bearer(second.body.accessToken))
      .expect(200);
  });

  it('bans, lifts the ban, signs out everywhere, removes the second factor, changes roles and deletes; each recorded with the admin as actor', async () => {
    const admin = await newAdmin();
    const target = await registerAndLogin(a.http);
    const ip = '198.51.100.77';
    const as = <T extends { set: (name: string, value: string) => T }>(request: T) =>
      request.set('Authorization', `Bearer ${admin.accessToken}`).set('X-Forwarded-For', ip);

    const until = new Date(clock.now().getTime() + 86_400_000).toISOString();
    await as(a.http.post(`/auth/admin/users/${target.userId}/ban`))
      .send({ until })
      .expect(204);
    await eventually(async () => (await statusOf(b, target.accessToken)) === 401);
    const banned = await b.http.post('/auth/login').send({ email: target.email, password: PASSWORD });
    expect(banned.body.message).toBe(`Account suspended until ${until}`);
    const seen = await as(a.http.get(`/auth/admin/users/${target.userId}`)).expect(200);
    expect(seen.body).toMatchObject({ id: target.userId, email: target.email, roles: [], suspendedUntil: until });

    await as(a.http.delete(`/auth/admin/users/${target.userId}/ban`)).expect(204);
    const back = await login(b.http, target.email);
    await as(a.http.post(`/auth/admin/users/${target.userId}/sign-out`)).expect(204);
    await eventually(async () => (await statusOf(b, back.accessToken)) === 401);

    const withApp = await login(a.http, target.email);
    await enableTotp(a.http, withApp.accessToken, clock);
    await as(a.http.delete(`/auth/admin/users/${target.userId}/mfa`)).expect(204);
    // The next sign-in asks for the password alone.
    const plain = await login(a.http, target.email);
    expect(plain.accessToken).toEqual(expect.any(String));

    const roles = await as(a.http.post(`/auth/admin/users/${target.userId}/roles`))
      .send({ add: ['support', 'billing'] })
      .expect(200);
    expect(roles.body).toEqual({ roles: ['billing', 'support'] });
    await eventually(async () => (await statusOf(b, plain.accessToken)) === 401);
    const withRoles = await login(b.http, target.email);
    expect(JSON.parse(Buffer.from(withRoles.accessToken.split('.')[1], 'base64url').toString()).roles).toEqual([
      'billing',
      'support',
    ]);
    await as(a.http.post(`/auth/admin/users/${target.userId}/roles`))
      .send({ remove: ['billing'] })
      .expect(200);

    const detail = await as(b.http.get(`/auth/admin/users/${target.userId}`)).expect(200);
    expect(detail.body.factors).toEqual({ password: true, totp: false, passkeys: 0, identities: 0 });
    expect(detail.body.events[0]).toMatchObject({ type: 'logout_all', actor: { kind: 'admin', id: admin.userId } });

    await as(a.http.delete(`/auth/admin/users/${target.userId}`)).expect(204);
    await eventually(async () => (await statusOf(b, withRoles.accessToken)) === 401);
    await as(a.http.get(`/auth/admin/users/${target.userId}`)).expect(404);

    const actor = { actor_kind: 'admin', actor_id: admin.userId, ip };
    expect(await adminEventsOf(target.userId)).toEqual([
      { type: 'user_banned', ...actor, details: { until } },
      { type: 'session_revoked', ...actor, details: { reason: 'user_banned' } },
      { type: 'user_unbanned', ...actor, details: {} },
      { type: 'logout_all', ...actor, details: { reason: 'admin_sign_out' } },
      {
        type: 'mfa_disabled',
        actor_kind: 'admin',
        actor_id: admin.userId,
        ip: null,
        details: { reason: 'admin_reset' },
      },
      { type: 'logout_all', ...actor, details: { reason: 'mfa_reset' } },
      { type: 'roles_changed', ...actor, details: { added: ['billing', 'support'], removed: [] } },
      { type: 'logout_all', ...actor, details: { reason: 'roles_changed' } },
      { type: 'roles_changed', ...actor, details: { added: [], removed: ['billing'] } },
      { type: 'logout_all', ...actor, details: { reason: 'roles_changed' } },
      { type: 'account_deleted', ...actor, details: {} },
      { type: 'session_revoked', ...actor, details: { reason: 'account_deleted' } },
    ]);
    // The events outlive the account, for the admins' reading.
    const read = await as(a.http.get(`/auth/admin/events?userId=${target.userId}&type=user_banned`)).expect(200);
    expect(read.body).toEqual({
      events: [
        expect.objectContaining({
          type: 'user_banned',
          userId: target.userId,
          actor: { kind: 'admin', id: admin.userId },
          ip,
          details: { until },
        }),
      ],
      nextCursor: null,
    });
  });

  it('answers 404 for an unknown user, 400 for a bad id, body or query', async () => {
    const admin = await newAdmin();
    const auth = bearer(admin.accessToken);
    for (const route of ROUTES.slice(1, 8)) {
      expect((await call(a, admin.accessToken, route, UNKNOWN_USER)).body).toEqual({
        statusCode: 404,
        message: 'User not found',
        error: 'Not Found',
      });
      expect((await call(a, admin.accessToken, route, 'not-a-uuid')).status).toBe(400);
    }
    const target = await registerAndLogin(a.http);
    const bad = async (path: string, body?: object) => {
      const request = body
        ? a.http
            .post(path)
            .set(...auth)
            .send(body)
        : a.http.get(path).set(...auth);
      const response = await request;
      expect({ path, body, status: response.status }).toEqual({ path, body, status: 400 });
    };
    await bad(`/auth/admin/users/${target.userId}/ban`, {
      until: new Date(clock.now().getTime() - 1000).toISOString(),
    });
    await bad(`/auth/admin/users/${target.userId}/ban`, { until: 'tomorrow' });
    // ISO 8601 forms a Date does not read (a week, a day of the year): refused, never a ban that silently is not one.
    await bad(`/auth/admin/users/${target.userId}/ban`, { until: '2030-W01' });
    await bad(`/auth/admin/users/${target.userId}/ban`, { until: '2030-001T00:00:00Z' });
    await bad(`/auth/admin/users/${target.userId}/ban`, { until: '2030-01-01' });
    // Days and times that do not exist, which a Date would roll over into the next ones.
    await bad(`/auth/admin/users/${target.userId}/ban`, { until: '2030-02-30T00:00:00Z' });
    await bad(`/auth/admin/users/${target.userId}/ban`, { until: '2030-01-01T24:00:00Z' });
    await bad(`/auth/admin/users/${target.userId}/ban`, {});
    await bad(`/auth/admin/users/${target.userId}/roles`, {});
    await bad(`/auth/admin/users/${target.userId}/roles`, { add: ['Admin'] });
    await bad(`/auth/admin/users/${target.userId}/roles`, { add: 'admin' });
    await bad(`/auth/admin/users/${target.userId}/roles`, { add: ['x'], remove: ['x'] });
    await bad(`/auth/admin/users/${target.userId}/roles`, { add: ['x'], extra: true });
    await bad('/auth/admin/users?cursor=nope');
    await bad('/auth/admin/users?query=a&unknown=1');
    await bad('/auth/admin/events?userId=me');
    await bad('/auth/admin/events?type=DROP%20TABLE');
    await bad('/auth/admin/events?cursor=abc');
    expect(await statusOf(b, target.accessToken)).toBe(200);
  });

  it('searches users by the start of their address, 50 a page', async () => {
    const admin = await newAdmin();
    const prefix = `search${process.pid}x${Date.now()}`;
    for (let n = 0; n < 53; n += 1) {
      await a.http
        .post('/auth/register')
        .send({ email: `${prefix}.${String(n).padStart(2, '0')}@example.com`, password: PASSWORD })
        .expect(201);
    }
    const first = await a.http
      .get(`/auth/admin/users?query=${prefix.toUpperCase()}`)
      .set(...bearer(admin.accessToken))
      .expect(200);
    expect(first.body.users).toHaveLength(50);
    expect(first.body.users[0]).toEqual({
      id: expect.any(String),
      email: `${prefix}.00@example.com`,
      emailVerified: false,
      roles: [],
      suspendedUntil: null,
      createdAt: expect.any(String),
    });
    const second = await a.http
      .get(`/auth/admin/users?query=${prefix}&cursor=${first.body.nextCursor}`)
      .set(...bearer(admin.accessToken))
      .expect(200);
    expect(second.body.users.map((user: { email: string }) => user.email)).toEqual([
      `${prefix}.50@example.com`,
      `${prefix}.51@example.com`,
      `${prefix}.52@example.com`,
    ]);
    expect(second.body.nextCursor).toBeNull();
    // `%` and `_` are characters, not patterns.
    const none = await a.http
      .get('/auth/admin/users?query=%25')
      .set(...bearer(admin.accessToken))
      .expect(200);
    expect(none.body.users).toEqual([]);
  });

  it('takes an id in upper case as the same user: revoked in every instance’s memory, and the self rules hold', async () => {
    const admin = await newAdmin();
    const target = await registerAndLogin(a.http);
    const auth = bearer(admin.accessToken);
    await a.http
      .post(`/auth/admin/users/${target.userId.toUpperCase()}/sign-out`)
      .set(...auth)
      .expect(204);
    // Refused from memory on the other instance, not only in the database.
    await eventually(async () => (await statusOf(b, target.accessToken)) === 401);
    expect(
      (
        await a.http
          .post(`/auth/admin/users/${admin.userId.toUpperCase()}/ban`)
          .set(...auth)
          .send({ until: '2099-01-01T00:00:00Z' })
      ).body.message,
    ).toBe('You cannot ban yourself');
    // A device signed out by an upper-case id, too.
    const other = await login(a.http, target.email);
    const device = await login(a.http, target.email);
    await a.http
      .delete(`/auth/sessions/${device.sessionId.toUpperCase()}`)
      .set(...bearer(other.accessToken))
      .expect(204);
    await eventually(async () => (await statusOf(b, device.accessToken)) === 401);
  });

  it('shows the user an admin’s action in their activity, without the admin’s address', async () => {
    const admin = await newAdmin();
    const target = await registerAndLogin(a.http);
    await a.http
      .post(`/auth/admin/users/${target.userId}/sign-out`)
      .set(...bearer(admin.accessToken))
      .set('X-Forwarded-For', '198.51.100.200')
      .expect(204);
    const again = await login(a.http, target.email);
    const seen = await a.http
      .get('/auth/activity')
      .set(...bearer(again.accessToken))
      .expect(200);
    expect(seen.body.events.find((event: { type: string }) => event.type === 'logout_all')).toEqual({
      type: 'logout_all',
      at: expect.any(String),
      ip: null,
      deviceName: null,
      current: false,
      reason: 'admin_sign_out',
    });
  });

  it('keeps an admin from locking themselves out: no self ban, self deletion or own admin role removal', async () => {
    const admin = await newAdmin();
    const conflict = (message: string) => ({ statusCode: 409, message, error: 'Conflict' });
    const auth = bearer(admin.accessToken);
    expect(
      (
        await a.http
          .post(`/auth/admin/users/${admin.userId}/ban`)
          .set(...auth)
          .send({ until: '2099-01-01T00:00:00Z' })
      ).body,
    ).toEqual(conflict('You cannot ban yourself'));
    expect((await a.http.delete(`/auth/admin/users/${admin.userId}`).set(...auth)).body).toEqual(
      conflict('You cannot delete your own account here'),
    );
    expect(
      (
        await a.http
          .post(`/auth/admin/users/${admin.userId}/roles`)
          .set(...auth)
          .send({ remove: ['admin'] })
      ).body,
    ).toEqual(conflict('You cannot remove your own admin role'));
    // Still an admin, still signed in.
    await a.http
      .get(`/auth/admin/users/${admin.userId}`)
      .set(...auth)
      .expect(200);
  });

  it('never leaves the module without an admin: two admins removing each other at once, one after the other', async () => {
    const roles = a.app.get(RolesService);
    const repository = a.app.get(RolesRepository);
    // Every admin of earlier tests loses the role, so that these two are the last.
    await a.dataSource.query(`UPDATE users SET roles = '{}' WHERE 'admin' = ANY(roles)`);
    const first = await newAdmin();
    const second = await newAdmin();
    const byFirst = { actor: { kind: 'admin' as const, id: first.userId }, ip: null };
    const bySecond = { actor: { kind: 'admin' as const, id: second.userId }, ip: null };
    // The first removal holds its turn, having counted the other admin (the second, still one).
    const held = holdNextCall(repository, 'otherAdminsIn', 'after');
    const removingSecond = roles.change(second.userId, { remove: ['admin'] }, byFirst);
    await held.latch.reached;
    const removingFirst = roles.change(first.userId, { remove: ['admin'] }, bySecond);
    // The second waits for the turn: nothing is decided while the first holds it.
    await eventually(
      async () =>
        (
          await a.dataSource.query(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`,
          )
        )[0].n === 1,
    );
    held.latch.release();
    held.restore();
    const outcomes = await Promise.allSettled([removingSecond, removingFirst]);
    expect(outcomes[0]).toEqual({ status: 'fulfilled', value: [] });
    expect(outcomes[1]).toMatchObject({
      status: 'rejected',
      reason: { message: 'The last admin cannot lose the admin role' },
    });
    const admins = async () =>
      (await a.dataSource.query(`SELECT count(*)::int AS n FROM users WHERE 'admin' = ANY(roles)`))[0].n as number;
    expect(await admins()).toBe(1);

    // Randomized: pairs of admins removing and deleting each other at once; one admin always stays.
    for (let round = 0; round < 8; round += 1) {
      await a.dataSource.query(`UPDATE users SET roles = '{}' WHERE 'admin' = ANY(roles)`);
      const x = await newAdmin();
      const y = await newAdmin();
      const byX = { actor: { kind: 'admin' as const, id: x.userId }, ip: null };
      const byY = { actor: { kind: 'admin' as const, id: y.userId }, ip: null };
      const deleteY = () =>
        a.http
          .delete(`/auth/admin/users/${y.userId}`)
          .set(...bearer(x.accessToken))
          .then((response) => response.status);
      const actions = [
        Math.random() < 0.5 ? deleteY() : roles.change(y.userId, { remove: ['admin'] }, byX).then(() => 200),
        roles.change(x.userId, { remove: ['admin'] }, byY).then(
          () => 200,
          () => 409,
        ),
      ];
      await Promise.allSettled(Math.random() < 0.5 ? actions.reverse() : actions);
      expect(await admins()).toBeGreaterThanOrEqual(1);
    }
  });
});
