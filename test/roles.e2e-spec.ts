import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RolesService } from '../src/auth/index.js';
import { FakeClock } from './support/fake-clock.js';
import { eventually } from './support/latch.js';
import { bearer, login, registerAndLogin, startTwoInstances, statusOf, type TwoInstances } from './support/test-app.js';

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());

describe('roles', () => {
  const clock = new FakeClock();
  let instances: TwoInstances;
  beforeAll(async () => {
    instances = await startTwoInstances(clock);
  });
  afterAll(async () => {
    await instances.close();
  });

  it('signs the user’s roles into the tokens, sorted; none: no claim', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    expect(claimsOf(user.accessToken)).not.toHaveProperty('roles');
    await a.app.get(RolesService).change(user.userId, { add: ['support', 'admin', 'support'] }, {});
    const again = await login(a.http, user.email);
    expect(claimsOf(again.accessToken).roles).toEqual(['admin', 'support']);
    expect(claimsOf(again.refreshToken).roles).toEqual(['admin', 'support']);
    const refreshed = await a.http.post('/auth/refresh').send({ refreshToken: again.refreshToken }).expect(200);
    expect(claimsOf(refreshed.body.accessToken).roles).toEqual(['admin', 'support']);
  });

  it('ends every session of the user on every instance when a role changes, and records who changed what', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const admin = await registerAndLogin(a.http);
    const other = await login(b.http, user.email);
    expect(await statusOf(b, user.accessToken)).toBe(200);
    const after = await a.app
      .get(RolesService)
      .change(user.userId, { add: ['billing'] }, { actor: { kind: 'admin', id: admin.userId }, ip: '203.0.113.9' });
    expect(after).toEqual(['billing']);
    for (const token of [user.accessToken, other.accessToken]) {
      expect(await statusOf(a, token)).toBe(401);
      await eventually(async () => (await statusOf(b, token)) === 401);
    }
    await b.http.post('/auth/refresh').send({ refreshToken: other.refreshToken }).expect(401);
    const events = await a.dataSource.query(
      `SELECT type, actor_kind, actor_id, ip, details FROM auth_events WHERE user_id = $1 AND at >= $2 ORDER BY id`,
      [user.userId, clock.now()],
    );
    expect(events.slice(-2)).toEqual([
      {
        type: 'roles_changed',
        actor_kind: 'admin',
        actor_id: admin.userId,
        ip: '203.0.113.9',
        details: { added: ['billing'], removed: [] },
      },
      {
        type: 'logout_all',
        actor_kind: 'admin',
        actor_id: admin.userId,
        ip: '203.0.113.9',
        details: { reason: 'roles_changed' },
      },
    ]);
    // The same roles again: nothing changes, no session ends.
    const fresh = await login(a.http, user.email);
    expect(await a.app.get(RolesService).change(user.userId, { add: ['billing'] }, {})).toEqual(['billing']);
    expect(await statusOf(b, fresh.accessToken)).toBe(200);
  });

  it('reads the roles again on refresh: a change made beside the module is in the next tokens', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    // Written by hand, no session ended (as a host's own SQL might): the refresh token names none.
    await a.dataSource.query(`UPDATE users SET roles = '{auditor}' WHERE id = $1`, [user.userId]);
    const refreshed = await a.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(200);
    expect(claimsOf(refreshed.body.accessToken).roles).toEqual(['auditor']);
    await a.dataSource.query(`UPDATE users SET roles = '{}' WHERE id = $1`, [user.userId]);
    const again = await a.http.post('/auth/refresh').send({ refreshToken: refreshed.body.refreshToken }).expect(200);
    expect(claimsOf(again.body.accessToken)).not.toHaveProperty('roles');
    // The token rotated out stays rotated out (no second rotation from the old one).
    await a.http.post('/auth/refresh').send({ refreshToken: user.refreshToken }).expect(401);
  });

  it('refuses bad role names and a role both added and removed (400), an unknown user (404)', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const roles = a.app.get(RolesService);
    await expect(roles.change(user.userId, { add: ['Admin'] }, {})).rejects.toThrow('A role name is lower-case');
    await expect(roles.change(user.userId, { add: ['x'.repeat(33)] }, {})).rejects.toThrow('A role name');
    await expect(roles.change(user.userId, { add: ['a'], remove: ['a'] }, {})).rejects.toThrow(
      'both added and removed',
    );
    await expect(
      roles.change(user.userId, { add: Array.from({ length: 17 }, (_, n) => `role${n}`) }, {}),
    ).rejects.toThrow('At most 16 roles');
    await expect(roles.change('00000000-0000-4000-8000-000000000000', { add: ['a'] }, {})).rejects.toThrow(
      'User not found',
    );
    expect(await statusOf(a, user.accessToken)).toBe(200);
    await a.http
      .get('/auth/sessions')
      .set(...bearer(user.accessToken))
      .expect(200);
  });
});
