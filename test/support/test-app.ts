import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/example/app.module.js';
import {
  APPLICATION_OPTIONS,
  configureApp,
  createHttpAdapter,
  type HttpAdapterKind,
  whenReady,
} from '../../src/example/app.setup.js';
import { AUTH_CLOCK } from '../../src/auth/index.js';
import type { AppConfig } from '../../src/example/config/app.config.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { FakeClock } from './fake-clock.js';

/**
 * The HTTP adapter the specs run on: `express`, or `fastify` in the Jest project that runs the
 * HTTP specs a second time (jest.config.js sets the global).
 */
export function testAdapter(): HttpAdapterKind {
  return (globalThis as { __HTTP_ADAPTER__?: HttpAdapterKind }).__HTTP_ADAPTER__ ?? 'express';
}

export const TEST_SECRET = 'test-secret-that-is-long-enough-for-hs256!!';
export const TEST_KEY_ENCRYPTION_SECRET = 'test-key-encryption-secret-of-32-bytes-or-more';

export function testConfig(overrides: Partial<AppConfig> = {}): AppConfig {
  const config: Omit<AppConfig, 'passkeyOrigin'> = {
    production: false,
    port: 0,
    databaseUrl: null,
    databaseListenUrl: null,
    dataDir: '/nonexistent',
    embeddedDatabasePort: 0,
    jwtSecret: TEST_SECRET,
    jwtAlgorithm: 'HS256',
    keyEncryptionSecret: TEST_KEY_ENCRYPTION_SECRET,
    accessTokenTtl: 900,
    refreshTokenTtl: 1_209_600,
    sessionMaxAge: 2_592_000,
    refreshReuseGrace: 10,
    purgeCron: '*/10 * * * *',
    loginMaxFailedAttempts: 5,
    loginMaxFailedAttemptsPerIp: 50,
    loginMaxFailedAttemptsPerAccount: 100,
    loginLockoutWindow: 900,
    // Generous: most specs register many users from one address.
    registerMaxPerIp: 1_000_000,
    registerWindow: 3600,
    // Generous for the same reason; specs of the budget set their own.
    passwordChecksMaxPerIp: 1_000_000,
    passwordChecksWindow: 60,
    passwordChecksMaxPerNetwork: 1_000_000,
    maxSessionsPerUser: 100,
    trustedOrigins: [],
    // Tests name client IPs with X-Forwarded-For, sent from loopback (supertest).
    trustProxy: 'loopback',
    httpAdapter: testAdapter(),
    smtpUrl: null,
    smtpAllowPlaintextTo: [],
    // Mails of specs that do not read them are written here (the FileMailTransport).
    mailDir: join(tmpdir(), `auth-test-mail-${process.pid}`),
    mailFrom: 'Tests <no-reply@example.com>',
    publicUrl: 'http://localhost:3000',
    passwordResetTtl: 1800,
    emailVerificationTtl: 86_400,
    requireVerifiedEmail: false,
    ...overrides,
  };
  // Passkeys are bound to the public URL, as the example app binds them (given, null included, it is kept).
  const passkeyOrigin =
    'passkeyOrigin' in overrides ? (overrides.passkeyOrigin ?? null) : new URL(config.publicUrl).origin;
  return { ...config, passkeyOrigin };
}

export interface StartOptions {
  config?: Partial<AppConfig>;
  clock?: FakeClock;
  /** Schedule the purge job as the real app does; off by default so that no test races it. */
  schedulePurge?: boolean;
  /** Providers to replace (by injection token), e.g. a capturing SECURITY_EVENT_HANDLER. */
  overrides?: Array<[token: unknown, value: unknown]>;
}

export interface TestApp {
  app: INestApplication;
  http: TestAgent;
  clock: FakeClock;
  dataSource: DataSource;
  close(): Promise<void>;
}

/**
 * Boots the example app (AppModule, exactly as main.ts does) against a given database, with the
 * module's clock replaced by a FakeClock.
 */
export async function startApp(databaseUrl: string, options: StartOptions = {}): Promise<TestApp> {
  const clock = options.clock ?? new FakeClock();
  let builder = Test.createTestingModule({
    imports: [
      AppModule.forRoot({
        config: testConfig(options.config),
        databaseUrl,
        runMigrations: false,
        schedulePurge: options.schedulePurge ?? false,
      }),
    ],
  })
    .overrideProvider(AUTH_CLOCK)
    .useValue(clock);
  for (const [token, value] of options.overrides ?? []) {
    builder = builder.overrideProvider(token as symbol).useValue(value);
  }
  const moduleRef = await builder.compile();
  const adapter = testAdapter();
  const http = { trustProxy: testConfig(options.config).trustProxy };
  const app = moduleRef.createNestApplication(createHttpAdapter(adapter, http), {
    ...APPLICATION_OPTIONS,
    // TEST_LOGS=1 shows the app's logs when a spec needs explaining.
    logger: process.env.TEST_LOGS ? ['error', 'warn', 'log'] : false,
  });
  await configureApp(app, adapter, http);
  await app.init();
  await whenReady(app, adapter);
  return {
    app,
    http: request(app.getHttpServer()),
    clock,
    dataSource: app.get(DataSource),
    close: () => app.close(),
  };
}

export interface TestAppWithDatabase extends TestApp {
  database: TestDatabase;
}

/** A fresh migrated database and the app on it; close() drops both. */
export async function createTestApp(options: StartOptions = {}): Promise<TestAppWithDatabase> {
  const database = await createTestDatabase();
  const testApp = await startApp(database.url, options);
  return {
    ...testApp,
    database,
    close: async () => {
      await testApp.close();
      await database.drop();
    },
  };
}

let counter = 0;
export function uniqueEmail(prefix = 'user'): string {
  counter += 1;
  return `${prefix}.${process.pid}.${counter}.${Date.now()}@example.com`;
}

export const PASSWORD = 'correct horse battery';

export interface LoggedIn {
  userId: string;
  email: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  emailVerified?: boolean;
}

export async function registerAndLogin(http: TestAgent, email = uniqueEmail(), deviceName?: string): Promise<LoggedIn> {
  const registered = await http.post('/auth/register').send({ email, password: PASSWORD }).expect(201);
  const login = await http.post('/auth/login').send({ email, password: PASSWORD, deviceName }).expect(200);
  return { userId: registered.body.id, email, ...login.body };
}

export async function login(http: TestAgent, email: string, deviceName?: string): Promise<LoggedIn> {
  const response = await http.post('/auth/login').send({ email, password: PASSWORD, deviceName }).expect(200);
  return { userId: '', email, ...response.body };
}

export function bearer(token: string): [string, string] {
  return ['Authorization', `Bearer ${token}`];
}

/** Two instances of the example app on one fresh database, for the claims that are about instances. */
export interface TwoInstances {
  database: TestDatabase;
  a: TestApp;
  b: TestApp;
  close(): Promise<void>;
}

export async function startTwoInstances(clock: FakeClock, config: Partial<AppConfig> = {}): Promise<TwoInstances> {
  const database = await createTestDatabase();
  const a = await startApp(database.url, { clock, config });
  const b = await startApp(database.url, { clock, config });
  return {
    database,
    a,
    b,
    close: async () => {
      await a.close();
      await b.close();
      await database.drop();
    },
  };
}

/** The status of `GET path` with the token as a bearer. */
export async function statusOf(app: TestApp, token: string, path = '/profile'): Promise<number> {
  return (await app.http.get(path).set(...bearer(token))).status;
}
