import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { childEnv, launchNodeApp, type LaunchedApp, waitForOutput } from './support/launch.js';
import { eventually } from './support/latch.js';
import { freePort } from './support/ports.js';
import {
  bearer,
  PASSWORD,
  registerAndLogin,
  startApp,
  TEST_KEY_ENCRYPTION_SECRET,
  TEST_SECRET,
} from './support/test-app.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'dist/src/example/main.js');
const CLI = join(ROOT, 'dist/src/example/cli.js');
const TYPEORM = join(ROOT, 'node_modules/.bin/typeorm');

interface ExampleApp extends LaunchedApp {
  workDir: string;
}

/** The built example app started in a fresh directory on its embedded PostgreSQL, until it listens. */
async function launchExampleApp(env: Record<string, string> = {}, listening = /Listening on/): Promise<ExampleApp> {
  const workDir = mkdtempSync(join(tmpdir(), 'auth-example-'));
  // Run as root, PostgreSQL runs as a 'postgres' user that must be able to reach the data directory.
  chmodSync(workDir, 0o755);
  const appEnv = { EMBEDDED_DATABASE_PORT: String(await freePort()), ...env };
  return { ...(await launchNodeApp({ main: MAIN, cwd: workDir, env: appEnv, listening })), workDir };
}

describe('the example app as a user runs it (built, in its own process)', () => {
  it('starts on an embedded PostgreSQL with zero setup, serves the API, and stops cleanly on SIGTERM', async () => {
    const app = await launchExampleApp();
    try {
      const { output, base, post, workDir } = app;
      // Not ready (no port open, so no /health) before the revocation state is in memory.
      expect(output.indexOf('Revocation state loaded')).toBeGreaterThan(-1);
      expect(output.indexOf('Revocation state loaded')).toBeLessThan(output.indexOf('Listening on'));
      expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
      const credentials = { email: 'zero.setup@example.com', password: 'password123' };
      expect((await post('/auth/register', credentials)).status).toBe(201);
      const tokens = (await (await post('/auth/login', credentials)).json()) as { accessToken: string };
      const profile = await fetch(`${base}/profile`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
      expect(profile.status).toBe(200);
      // Security events go to the log, one structured line each, without the password or the email.
      const loggedLine = waitForOutput(app.child, /"event":"login_failed".*\n/, 5_000);
      expect((await post('/auth/login', { ...credentials, password: 'not the password' })).status).toBe(401);
      const logged = await loggedLine;
      const line = logged.split('\n').find((text) => text.includes('"event":"login_failed"')) ?? '';
      expect(line).toMatch(/"reason":"bad_credentials"/);
      expect(line).not.toContain('not the password');
      expect(line).not.toContain(credentials.email);
      // Without SMTP_URL the verification mail is a file under .data/mail, and one log line says where;
      // its link works.
      const mailLine = /Mail "Confirm your email address for [^"]+" to zero\.setup@example\.com written to (\S+\.eml)/;
      await eventually(() => mailLine.test(app.allOutput()), 5_000);
      const mailFile = mailLine.exec(app.allOutput())?.[1] ?? '';
      expect(mailFile.startsWith(join(workDir, '.data/mail/'))).toBe(true);
      expect(statSync(mailFile).mode & 0o777).toBe(0o600);
      const eml = readFileSync(mailFile, 'utf8');
      expect(eml).toMatch(/^To: zero\.setup@example\.com$/m);
      const verifyLink = new RegExp(
        `${base.replace('127.0.0.1', 'localhost')}/account/verify-email\\?token=([A-Za-z0-9_-]{43})`,
      );
      const token = verifyLink.exec(eml.replace(/=\r?\n/g, '').replace(/=3D/g, '='))?.[1];
      expect(token).toBeDefined();
      expect((await post('/auth/email/verify', { token })).status).toBe(204);
      // The generated development secret is kept, owner-only, under .data/.
      expect(existsSync(join(workDir, '.data/jwt-secret'))).toBe(true);
      expect(existsSync(join(workDir, '.data/postgres/postmaster.pid'))).toBe(true);

      expect(await app.stop()).toEqual({ code: 0, signal: null });
      // PostgreSQL shut down: it removes its pid file on a clean stop.
      expect(existsSync(join(workDir, '.data/postgres/postmaster.pid'))).toBe(false);
    } finally {
      if (app.child.exitCode === null) app.child.kill('SIGKILL');
    }
  }, 90_000);

  it('runs on Fastify with HTTP_ADAPTER=fastify', async () => {
    const app = await launchExampleApp({ HTTP_ADAPTER: 'fastify' }, /Listening on .*\(fastify\)/);
    try {
      const { output, base, post } = app;
      expect(output).toMatch(/Revocation state loaded/);
      const credentials = { email: 'fastify@example.com', password: 'password123' };
      expect((await post('/auth/register', credentials)).status).toBe(201);
      const tokens = (await (await post('/auth/login', credentials)).json()) as { accessToken: string };
      const profile = await fetch(`${base}/profile`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
      expect(profile.status).toBe(200);
      const malformed = await fetch(`${base}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":',
      });
      expect(await malformed.json()).toEqual({ statusCode: 400, message: 'Malformed JSON body', error: 'Bad Request' });
      expect(await app.stop()).toEqual({ code: 0, signal: null });
    } finally {
      if (app.child.exitCode === null) app.child.kill('SIGKILL');
    }
  }, 90_000);

  it.each([
    ['production without JWT_SECRET', { NODE_ENV: 'production' }, /JWT_SECRET is required when NODE_ENV=production/],
    ['a secret under 32 bytes', { JWT_SECRET: 'too-short' }, /JWT_SECRET must be at least 32 bytes/],
    [
      'a bad number',
      { ACCESS_TOKEN_TTL: '15m', JWT_SECRET: 'x'.repeat(32) },
      /ACCESS_TOKEN_TTL must be a whole number/,
    ],
    ['TRUST_PROXY=true', { TRUST_PROXY: 'true', JWT_SECRET: 'x'.repeat(32) }, /TRUST_PROXY=true is refused/],
    [
      'an unknown HTTP_ADAPTER',
      { HTTP_ADAPTER: 'koa', JWT_SECRET: 'x'.repeat(32) },
      /HTTP_ADAPTER must be express or fastify/,
    ],
    [
      'a bad cron expression',
      { PURGE_CRON: 'every day', JWT_SECRET: 'x'.repeat(32) },
      /PURGE_CRON is not a valid cron expression/,
    ],
  ])('refuses to start with %s, saying why', async (_name, env, message) => {
    const workDir = mkdtempSync(join(tmpdir(), 'auth-example-'));
    const failure = await run(process.execPath, [MAIN], { cwd: workDir, env: childEnv(env) }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(message);
    expect(failure?.stderr).not.toMatch(/at .*\.js:\d+/); // a message, not a stack trace
  });

  it.each([
    [
      'an option that weakens TLS',
      'smtp://alice:hunter2-secret@relay.example:25/?requireTLS=false',
      {},
      /^ {2}- SMTP_URL option requireTLS=false weakens TLS to relay\.example: allowed only for localhost or a relay named in SMTP_ALLOW_PLAINTEXT_TO$/m,
    ],
    [
      'a host parsers read differently',
      'smtp://alice:hunter2-secret@relay.example\\@localhost:25/',
      {},
      /^ {2}- SMTP_URL must not contain a backslash, whitespace or control characters$/m,
    ],
    [
      'ignoreTLS to a relay not named in SMTP_ALLOW_PLAINTEXT_TO',
      'smtp://alice:hunter2-secret@relay.example/?ignoreTLS=true',
      { SMTP_ALLOW_PLAINTEXT_TO: 'relay.internal' },
      /^ {2}- SMTP_URL option ignoreTLS=true weakens TLS to relay\.example/m,
    ],
  ])(
    'refuses to start in production with an SMTP_URL with %s, in one line that shows no password',
    async (_name, url, env, message) => {
      const workDir = mkdtempSync(join(tmpdir(), 'auth-example-'));
      const production = {
        NODE_ENV: 'production',
        JWT_SECRET: 'x'.repeat(32),
        KEY_ENCRYPTION_SECRET: 'k'.repeat(32),
        PUBLIC_URL: 'https://app.example.com',
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      };
      const failure = await run(process.execPath, [MAIN], {
        cwd: workDir,
        env: childEnv({ ...production, ...env, SMTP_URL: url }),
      }).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toMatch(message);
      expect(failure?.stderr).not.toMatch(/hunter2|alice/);
      expect(failure?.stderr).not.toMatch(/at .*\.js:\d+/);
    },
  );

  describe('against a database given by DATABASE_URL', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase({ migrated: false });
    });
    afterAll(async () => {
      await database.drop();
    });

    it('npm run migration:run migrates, twice is a no-op, and migration:revert undoes it', async () => {
      const env = childEnv({ DATABASE_URL: database.url });
      const first = await run(TYPEORM, ['migration:run', '-d', 'dist/ormconfig.js'], { cwd: ROOT, env });
      expect(first.stdout).toContain('CreateAuthTables1763870400000 has been executed successfully');
      const second = await run(TYPEORM, ['migration:run', '-d', 'dist/ormconfig.js'], { cwd: ROOT, env });
      expect(second.stdout).toContain('No migrations are pending');
      const reverted = await run(TYPEORM, ['migration:revert', '-d', 'dist/ormconfig.js'], { cwd: ROOT, env });
      expect(reverted.stdout).toContain('has been reverted successfully');
      await run(TYPEORM, ['migration:run', '-d', 'dist/ormconfig.js'], { cwd: ROOT, env });
    }, 60_000);

    it('gives the revocation listener DATABASE_LISTEN_URL, and refuses to start when it does not reach the same database', async () => {
      const other = await createTestDatabase();
      try {
        const workDir = mkdtempSync(join(tmpdir(), 'auth-example-'));
        const env = childEnv({ DATABASE_URL: database.url, DATABASE_LISTEN_URL: other.url, PORT: '0' });
        const failure = await run(process.execPath, [MAIN], { cwd: workDir, env }).then(
          () => null,
          (error: { code: number; stderr: string }) => error,
        );
        expect(failure?.code).toBe(1);
        expect(failure?.stderr).toContain(
          'The revocation listener did not receive a notification sent through the database pool',
        );
      } finally {
        await other.drop();
      }
    }, 60_000);

    it('npm run cli -- purge purges once and prints what it deleted', async () => {
      const env = childEnv({ DATABASE_URL: database.url, JWT_SECRET: 'x'.repeat(32) });
      const { stdout } = await run(process.execPath, [CLI, 'purge'], { cwd: ROOT, env });
      expect(stdout).toMatch(
        /Deleted 0 expired revoked token\(s\), 0 ended session\(s\), 0 old failed login\(s\), 0 old rate-limit hit\(s\), 0 old tombstone\(s\), 0 expired account token\(s\), 0 expired second step\(s\) of sign-in, 0 expired passkey challenge\(s\), 0 expired provider sign-in\(s\) and 0 old security event\(s\) in 11 batch\(es\), and retired 0 signing key\(s\)\./,
      );
      const usage = await run(process.execPath, [CLI, 'frobnicate'], { cwd: ROOT, env }).catch((error) => error);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('Unknown command: frobnicate');
    }, 60_000);

    it('npm run cli -- revoke-user revokes, suspends with --until, and refuses unknown emails', async () => {
      // The app's own secret: the CLI's announcement is signed with a key derived from it, and
      // the app drops one signed with any other (docs/operations.md, the CLI's environment).
      const env = childEnv({ DATABASE_URL: database.url, JWT_SECRET: TEST_SECRET });
      const app = await startApp(database.url);
      try {
        const banned = await registerAndLogin(app.http);
        const until = new Date(Date.now() + 3_600_000).toISOString();
        const suspended = await run(
          process.execPath,
          [CLI, 'revoke-user', banned.email.toUpperCase(), '--until', until],
          {
            cwd: ROOT,
            env,
          },
        );
        expect(suspended.stdout).toContain(`Revoked every token of ${banned.email}; account suspended until ${until}.`);
        await app.http
          .get('/profile')
          .set(...bearer(banned.accessToken))
          .expect(401);
        const refused = await app.http
          .post('/auth/login')
          .send({ email: banned.email, password: PASSWORD })
          .expect(403);
        expect(refused.body.message).toBe(`Account suspended until ${until}`);

        const revoked = await registerAndLogin(app.http);
        const plain = await run(process.execPath, [CLI, 'revoke-user', revoked.email], { cwd: ROOT, env });
        expect(plain.stdout).toContain(`Revoked every token of ${revoked.email}.`);
        await app.http
          .get('/profile')
          .set(...bearer(revoked.accessToken))
          .expect(401);
        app.clock.set(new Date()); // the CLI used the real clock
        await app.http.post('/auth/login').send({ email: revoked.email, password: PASSWORD }).expect(200);

        // Given another secret than the app's, it refuses before changing anything: the app
        // would drop its announcement and keep accepting the tokens from memory.
        const kept = await registerAndLogin(app.http);
        const mismatched = await run(process.execPath, [CLI, 'revoke-user', kept.email], {
          cwd: ROOT,
          env: childEnv({ DATABASE_URL: database.url, JWT_SECRET: 'x'.repeat(32) }),
        }).catch((error) => error);
        expect(mismatched.code).toBe(1);
        expect(mismatched.stderr).toContain('sign the notification channel with another key than this CLI would');
        expect(mismatched.stderr).toContain('Nothing was changed.');
        await app.http
          .get('/profile')
          .set(...bearer(kept.accessToken))
          .expect(200);
        const [{ cutoff }] = await app.dataSource.query(
          'SELECT tokens_valid_after AS cutoff FROM users WHERE email = $1',
          [kept.email],
        );
        expect(cutoff).toBeNull();

        const unknown = await run(process.execPath, [CLI, 'revoke-user', 'nobody@example.com'], {
          cwd: ROOT,
          env,
        }).catch((error) => error);
        expect(unknown.code).toBe(1);
        expect(unknown.stderr).toContain('No user with email nobody@example.com');

        const badDate = await run(process.execPath, [CLI, 'revoke-user', banned.email, '--until', 'next tuesday'], {
          cwd: ROOT,
          env,
        }).catch((error) => error);
        expect(badDate.code).toBe(2);
        expect(badDate.stderr).toContain('--until must be an ISO-8601 date-time');
      } finally {
        await app.close();
      }
    }, 60_000);

    it('npm run cli -- keys list, rotate and retire: kid, algorithm, state and dates', async () => {
      const env = childEnv({
        DATABASE_URL: database.url,
        JWT_SECRET: 'x'.repeat(32),
        JWT_ALGORITHM: 'EdDSA',
        KEY_ENCRYPTION_SECRET: 'k'.repeat(32),
      });
      const cli = (...args: string[]): Promise<{ code?: number; stdout: string; stderr: string }> =>
        run(process.execPath, [CLI, 'keys', ...args], { cwd: ROOT, env }).catch(
          (error: { code: number; stdout: string; stderr: string }) => error,
        );
      // The first start with EdDSA created the first key; the JWT secret's key is the one before it.
      const listed = await cli('list');
      const lines = listed.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^KID\s+ALGORITHM\s+STATE\s+CREATED\s+SIGNS FROM\s+VERIFIES UNTIL$/);
      expect(lines[1]).toMatch(/^s-\S+ \(JWT_SECRET\)\s+HS256\s+previous\s+-\s+-\s+\d{4}-\d\d-\d\dT\S+Z$/);
      expect(lines[2]).toMatch(/^[A-Za-z0-9_-]{43}\s+EdDSA\s+current\s+\d{4}-.*Z\s+-$/);

      const rotated = await cli('rotate', '--algorithm', 'ES256');
      expect(rotated.stdout).toMatch(
        /^Published signing key [A-Za-z0-9_-]{43} \(ES256\); .* it signs from \d{4}-\S+Z\.$/m,
      );
      expect((await cli('list')).stdout).toMatch(/ES256\s+next\s/);
      const again = await cli('rotate');
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/is already waiting to sign from/);
      expect((await cli('retire')).stdout).toContain('No key to retire.');

      const bad = await cli('rotate', '--algorithm', 'RS256');
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--algorithm must be one of HS256, HS384, HS512, EdDSA, ES256 (got "RS256")');
      const unknown = await cli('shuffle');
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('Unknown keys action: shuffle');
    }, 60_000);

    it('npm run cli -- keys revoke and keys reencrypt: the running app refuses the key at once; one line and exit 1 when refused', async () => {
      const own = await createTestDatabase();
      const app = await startApp(own.url, { config: { jwtAlgorithm: 'EdDSA' } });
      try {
        const env = (extra: Record<string, string> = {}) =>
          childEnv({
            DATABASE_URL: own.url,
            JWT_SECRET: TEST_SECRET,
            JWT_ALGORITHM: 'EdDSA',
            KEY_ENCRYPTION_SECRET: TEST_KEY_ENCRYPTION_SECRET,
            ...extra,
          });
        const cli = (args: string[], extra?: Record<string, string>) =>
          run(process.execPath, [CLI, 'keys', ...args], { cwd: ROOT, env: env(extra) }).then(
            (answer) => ({ code: 0, ...answer }),
            (error: { code: number; stdout: string; stderr: string }) => error,
          );
        const user = await registerAndLogin(app.http);
        const kid = JSON.parse(Buffer.from(user.accessToken.split('.')[0], 'base64url').toString()).kid as string;
        await app.http
          .get('/profile')
          .set(...bearer(user.accessToken))
          .expect(200);

        const revoked = await cli(['revoke', kid]);
        expect(revoked.code).toBe(0);
        expect(revoked.stdout).toMatch(
          new RegExp(
            `^Revoked signing key ${kid}: every instance refuses every token it signed from now on\\. Key [A-Za-z0-9_-]{43} \\(EdDSA\\) signs in its place\\.$`,
            'm',
          ),
        );
        await app.http
          .get('/profile')
          .set(...bearer(user.accessToken))
          .expect(401);
        app.clock.set(new Date()); // the CLI used the real clock
        const fresh = await app.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
        expect(fresh.body.accessToken).not.toContain(kid);
        expect((await cli(['list'])).stdout).toMatch(new RegExp(`^${kid}\\s+EdDSA\\s+revoked\\s`, 'm'));
        expect((await cli(['revoke', kid])).stdout).toContain(`Signing key ${kid} was already revoked`);

        const unknown = await cli(['revoke', 'B'.repeat(43)]);
        expect([unknown.code, unknown.stderr.trim().split('\n')]).toEqual([1, [`No signing key ${'B'.repeat(43)}`]]);
        const usage = await cli(['revoke']);
        expect(usage.code).toBe(2);
        expect(usage.stderr).toContain('keys revoke takes exactly one kid');

        const NEW = 'the-new-key-encryption-secret-of-the-example';
        const sealed = () => app.dataSource.query('SELECT kid, private_key_encrypted FROM signing_keys ORDER BY kid');
        const before = await sealed();
        const missing = await cli(['reencrypt']);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toContain('keys reencrypt needs NEW_KEY_ENCRYPTION_SECRET');
        const wrong = await cli(['reencrypt'], {
          KEY_ENCRYPTION_SECRET: 'not-the-key-encryption-secret-of-this-app',
          NEW_KEY_ENCRYPTION_SECRET: NEW,
        });
        // (The example's CLI is the app itself, which refuses to start with keys it cannot open.)
        expect(wrong.code).toBe(1);
        expect(wrong.stderr).toMatch(/does not decrypt with this key-encryption secret/);
        expect(await sealed()).toEqual(before);
        const done = await cli(['reencrypt'], { NEW_KEY_ENCRYPTION_SECRET: NEW });
        expect(done.code).toBe(0);
        expect(done.stdout).toContain(
          'Re-encrypted 2 signing key(s) and 0 authenticator-app secret(s) under NEW_KEY_ENCRYPTION_SECRET',
        );
        expect((await sealed()).map((row: { kid: string }) => row.kid)).toEqual(
          before.map((row: { kid: string }) => row.kid),
        );
        expect(await sealed()).not.toEqual(before);
        // The keys open with the new secret only.
        expect((await cli(['list'], { KEY_ENCRYPTION_SECRET: NEW })).stderr).toBe('');
      } finally {
        await app.close();
        await own.drop();
      }
    }, 60_000);
  });
});
