import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplication, InjectionToken } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { DataSource } from 'typeorm';
import * as api from '../src/auth/index.js';
import { AUTH_ENTITIES, AuthModule } from '../src/auth/index.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { PASSWORD, TEST_SECRET } from './support/test-app.js';

describe('AuthModule in a bare host (forRoot, custom prefix, no global guard or pipes)', () => {
  let database: TestDatabase;
  let app: INestApplication;
  let http: TestAgent;
  beforeAll(async () => {
    database = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
        AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: false, accessTokenTtl: 60, routePrefix: 'account' }),
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    http = request(app.getHttpServer());
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  it('mounts the routes under the configured prefix', async () => {
    await http.post('/account/register').send({ email: 'bare@example.com', password: PASSWORD }).expect(201);
    const login = await http.post('/account/login').send({ email: 'bare@example.com', password: PASSWORD }).expect(200);
    expect(login.body.expiresIn).toBe(60);
    await http.post('/auth/login').send({ email: 'bare@example.com', password: PASSWORD }).expect(404);
  });

  it('guards its own routes and validates its own bodies without help from the host', async () => {
    await http.get('/account/me').expect(401);
    await http.post('/account/logout').expect(401);
    await http
      .post('/account/login')
      .send({ email: { $ne: null }, password: PASSWORD })
      .expect(400);
    await http
      .post('/account/register')
      .send({ email: 'x@example.com', password: PASSWORD, isAdmin: true })
      .expect(400);
  });

  it('without keyEncryptionSecret, says that a second factor cannot be set up (403), and signs in as before', async () => {
    await http.post('/account/register').send({ email: 'nokey@example.com', password: PASSWORD }).expect(201);
    const login = await http
      .post('/account/login')
      .send({ email: 'nokey@example.com', password: PASSWORD })
      .expect(200);
    const setup = await http.post('/account/mfa/totp/setup').set('Authorization', `Bearer ${login.body.accessToken}`);
    expect(setup.body).toEqual({
      statusCode: 403,
      message: 'Two-factor authentication needs the server to be configured with keyEncryptionSecret',
      error: 'Forbidden',
    });
    await http
      .get('/account/mfa')
      .set('Authorization', `Bearer ${login.body.accessToken}`)
      .expect(200, { totp: false, passkeys: 0, recoveryCodesLeft: 0 });
  });
});

describe('AuthModule with strictRevocation: true', () => {
  it('checks the database on every request, so even a revocation written by hand in SQL is seen', async () => {
    const database = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
        AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: false, strictRevocation: true }),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    try {
      const http = request(app.getHttpServer());
      await http.post('/auth/register').send({ email: 'strict@example.com', password: PASSWORD }).expect(201);
      const login = await http
        .post('/auth/login')
        .send({ email: 'strict@example.com', password: PASSWORD })
        .expect(200);
      const auth = `Bearer ${login.body.accessToken}`;
      await http.get('/auth/me').set('Authorization', auth).expect(200);
      // No NOTIFY: only a database check can know.
      await app.get(DataSource).query('UPDATE sessions SET revoked_at = now() WHERE id = $1', [login.body.sessionId]);
      await http.get('/auth/me').set('Authorization', auth).expect(401);
    } finally {
      await app.close();
      await database.drop();
    }
  });
});

describe('the services the package exports, injected into a host’s own provider', () => {
  /** Every class the package exports whose name says it is a service: each must be injectable. */
  const exportedServices = Object.entries(api).filter(([name]) => name.endsWith('Service'));

  it('are all exported by AuthModule too', async () => {
    expect(exportedServices.map(([name]) => name)).toEqual(
      expect.arrayContaining([
        'AuthService',
        'AccountService',
        'SessionsService',
        'LoginThrottleService',
        'RegistrationThrottleService',
        'SecurityEventsService',
      ]),
    );
    const database = await createTestDatabase();
    const HOST_SERVICE = Symbol('HOST_SERVICE');
    try {
      // As a host declares a provider of its own beside AuthModule.forRoot(): it sees only the
      // module's exports, and compile() fails on the first service that is not one of them.
      const moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({ type: 'postgres', url: database.url, entities: AUTH_ENTITIES }),
          AuthModule.forRoot({ secret: TEST_SECRET, purgeCron: false }),
        ],
        providers: [
          {
            provide: HOST_SERVICE,
            inject: exportedServices.map(([, service]) => service as InjectionToken),
            useFactory: (...services: unknown[]) => services,
          },
        ],
      }).compile();
      expect(moduleRef.get<unknown[]>(HOST_SERVICE).every((service) => typeof service === 'object')).toBe(true);
      await moduleRef.close();
    } finally {
      await database.drop();
    }
  });
});
