import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pg from 'pg';
import { operatorModule } from '../src/auth/cli/operator.module.js';
import { RevocationService, RevocationSyncService } from '../src/auth/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { NotificationKeyMissingError } from '../src/auth/notifications/notification-signer.js';
import {
  bearer,
  PASSWORD,
  registerAndLogin,
  startApp,
  TEST_KEY_ENCRYPTION_SECRET,
  TEST_SECRET,
  type TestApp,
} from './support/test-app.js';
import { parseCliCommand } from '../src/auth/cli/cli-commands.js';
import { enableTotp } from './support/mfa.js';
import { FakeClock } from './support/fake-clock.js';

/**
 * The module as `npx nest-jwt-revocation` runs it (operator role), in process: what it starts and
 * what it does not, beside an app instance on the same database.
 */
describe('the operator CLI’s module', () => {
  let database: TestDatabase;
  let app: TestApp;
  let operator: INestApplicationContext;
  const clock = new FakeClock();

  beforeAll(async () => {
    database = await createTestDatabase();
    app = await startApp(database.url, { clock });
    // Given one of the app's secrets only: what it announces is signed with a key the app accepts.
    operator = await NestFactory.createApplicationContext(
      operatorModule({ databaseUrl: database.url, keyEncryptionSecret: TEST_KEY_ENCRYPTION_SECRET }),
      { logger: false },
    );
  });
  afterAll(async () => {
    await operator?.close();
    await app?.close();
    await database?.drop();
  });

  it('opens no LISTEN connection and loads no revocation state, whatever the denylist holds', async () => {
    const sync = operator.get(RevocationSyncService);
    expect({ listener: sync.listenerBackendPid, loads: sync.loadCount, status: sync.status }).toEqual({
      listener: null,
      loads: 0,
      status: 'starting',
    });
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`,
      );
      // The app's listener only.
      expect(rows.map((row) => row.pid)).toEqual([app.app.get(RevocationSyncService).listenerBackendPid]);
    } finally {
      await client.end();
    }
  });

  it('announces what it revokes: the app refuses the user’s token at once', async () => {
    const user = await registerAndLogin(app.http);
    await app.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(await operator.get(RevocationService).revokeAllForUser(user.userId)).toBe(true);
    for (let attempt = 0; ; attempt += 1) {
      const status = (await app.http.get('/profile').set(...bearer(user.accessToken))).status;
      if (status === 401) break;
      if (attempt > 100) throw new Error(`still ${status}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });

  it('mfa reset: removes the second factor and ends every session; the next login needs the password alone', async () => {
    const user = await registerAndLogin(app.http);
    await enableTotp(app.http, user.accessToken, clock);
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(`ERR ${line}`) };
    const command = parseCliCommand(['mfa', 'reset', user.email.toUpperCase()]);
    // As the app's own operator runs it: with the app's secrets, so that the app hears what it ends.
    const support = await NestFactory.createApplicationContext(
      operatorModule({
        databaseUrl: database.url,
        secret: TEST_SECRET,
        keyEncryptionSecret: TEST_KEY_ENCRYPTION_SECRET,
      }),
      { logger: false },
    );
    try {
      expect([await command.run(support, output, { keyLifetimesKnown: false }), lines]).toEqual([
        0,
        [
          `Removed the second factor of ${user.email} and ended every session; the next login asks for the password alone.`,
        ],
      ]);
      for (
        let attempt = 0;
        (await app.http.get('/profile').set(...bearer(user.accessToken))).status !== 401;
        attempt += 1
      ) {
        if (attempt > 100) throw new Error('the session still works');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const login = await app.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
      expect(login.body.accessToken).toEqual(expect.any(String));
      await app.http
        .get('/auth/mfa')
        .set(...bearer(login.body.accessToken))
        .expect(200, { totp: false, passkeys: 0, recoveryCodesLeft: 0 });

      lines.length = 0;
      expect(await command.run(support, output, { keyLifetimesKnown: false })).toBe(0);
      expect(lines).toEqual([`${user.email} had no second factor; every session ended.`]);
      expect(
        await parseCliCommand(['mfa', 'reset', 'nobody@example.com']).run(support, output, {
          keyLifetimesKnown: false,
        }),
      ).toBe(1);
      expect(lines.at(-1)).toBe('ERR No user with email nobody@example.com');
    } finally {
      await support.close();
    }
  });

  it('roles grant, revoke and list: a change ends every session, is recorded as the system’s, and the next tokens carry it', async () => {
    const user = await registerAndLogin(app.http);
    const lines: string[] = [];
    const output = { out: (line: string) => lines.push(line), err: (line: string) => lines.push(`ERR ${line}`) };
    const support = await NestFactory.createApplicationContext(
      operatorModule({
        databaseUrl: database.url,
        secret: TEST_SECRET,
        keyEncryptionSecret: TEST_KEY_ENCRYPTION_SECRET,
      }),
      { logger: false },
    );
    const run = (...argv: string[]) => parseCliCommand(argv).run(support, output, { keyLifetimesKnown: false });
    try {
      expect(await run('roles', 'list', user.email)).toBe(0);
      expect(lines).toEqual([]);
      expect(await run('roles', 'grant', user.email, 'admin')).toBe(0);
      expect(lines).toEqual([`Granted admin to ${user.email} and ended every session; roles now: admin.`]);
      for (let attempt = 0; (await app.http.get('/profile').set(...bearer(user.accessToken))).status !== 401;) {
        if ((attempt += 1) > 100) throw new Error('the session still works');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const signedIn = await app.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
      const claims = JSON.parse(Buffer.from(signedIn.body.accessToken.split('.')[1], 'base64url').toString());
      expect(claims.roles).toEqual(['admin']);

      lines.length = 0;
      expect(await run('roles', 'grant', user.email, 'admin')).toBe(0);
      expect(await run('roles', 'grant', user.email, 'billing')).toBe(0);
      expect(await run('roles', 'list', user.email.toUpperCase())).toBe(0);
      expect(await run('roles', 'revoke', user.email, 'billing')).toBe(0);
      expect(await run('roles', 'revoke', user.email, 'billing')).toBe(0);
      expect(await run('roles', 'list', 'nobody@example.com')).toBe(1);
      expect(lines).toEqual([
        `${user.email} already has admin; nothing changed (roles: admin).`,
        `Granted billing to ${user.email} and ended every session; roles now: admin, billing.`,
        'admin',
        'billing',
        `Revoked billing from ${user.email} and ended every session; roles now: admin.`,
        `${user.email} does not have billing; nothing changed (roles: admin).`,
        'ERR No user with email nobody@example.com',
      ]);
      const recorded = await app.dataSource.query(
        `SELECT actor_kind, actor_id, details FROM auth_events WHERE user_id = $1 AND type = 'roles_changed' ORDER BY id`,
        [user.userId],
      );
      expect(recorded).toEqual([
        { actor_kind: 'system', actor_id: null, details: { added: ['admin'], removed: [] } },
        { actor_kind: 'system', actor_id: null, details: { added: ['billing'], removed: [] } },
        { actor_kind: 'system', actor_id: null, details: { added: [], removed: ['billing'] } },
      ]);
      expect(() => parseCliCommand(['roles', 'grant', user.email, 'Admin!'])).toThrow('A role name is lower-case');
      expect(() => parseCliCommand(['roles', 'grant', user.email])).toThrow('roles grant takes an email and a role');
      expect(() => parseCliCommand(['roles', 'promote'])).toThrow('Unknown roles action: promote');
    } finally {
      await support.close();
    }
  });

  it('without any of the app’s secrets, revokes nothing rather than announce it unsigned (the app would drop it)', async () => {
    const user = await registerAndLogin(app.http);
    const keyless = await NestFactory.createApplicationContext(operatorModule({ databaseUrl: database.url }), {
      logger: false,
    });
    try {
      await expect(keyless.get(RevocationService).revokeAllForUser(user.userId)).rejects.toThrow(
        NotificationKeyMissingError,
      );
    } finally {
      await keyless.close();
    }
    const [row] = await app.dataSource.query('SELECT tokens_valid_after FROM users WHERE id = $1', [user.userId]);
    expect(row.tokens_valid_after).toBeNull();
    await app.http
      .get('/profile')
      .set(...bearer(user.accessToken))
      .expect(200);
  });

  it('creates no signing key at its start, even given a key-encryption secret and no key yet', async () => {
    // An issuer started so (no secret, a key-encryption secret) creates its first key, which every
    // instance would then sign with.
    const keys = async () => (await app.dataSource.query('SELECT kid FROM signing_keys')) as unknown[];
    expect(await keys()).toEqual([]);
    const withSecret = await NestFactory.createApplicationContext(
      operatorModule({ databaseUrl: database.url, keyEncryptionSecret: 'k'.repeat(32) }),
      { logger: false },
    );
    await withSecret.close();
    expect(await keys()).toEqual([]);
  });
});
