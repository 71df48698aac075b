import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createUtf8TestDatabase, type TestDatabase } from './support/database.js';
import { PASSWORD, startApp, type TestApp } from './support/test-app.js';

/**
 * One identity per address, wherever addresses are compared (canonicalEmail): the account, the
 * login throttle, the mail limits. On a database whose collation is UTF-8 (Debian's `C.UTF-8`),
 * where PostgreSQL's `lower('İ')` is a plain `i` while JavaScript folds `İ` to `i` + U+0307: the
 * module used to compare with the one in SQL and with the other in its limits. Addresses written
 * with compatibility characters (fullwidth letters) are refused outright.
 * `npm run test:pg15` runs this spec on Debian's PostgreSQL 15 as well.
 */
describe('one identity per email address, on a UTF-8 database', () => {
  let database: TestDatabase;
  let app: TestApp;
  beforeAll(async () => {
    database = await createUtf8TestDatabase();
    app = await startApp(database.url);
  });
  afterAll(async () => {
    await app.close();
    await database.drop();
  });

  let serial = 0;
  /** A local part of its own for each test, so that no limit of one test counts in another. */
  const fresh = (stem: string) => {
    serial += 1;
    return `${stem}${serial}.${process.pid}.${Date.now()}`;
  };
  let clients = 0;
  /** A distinct client per request, so that only the per-address limits count. */
  const anotherClient = (): [string, string] => {
    clients += 1;
    return ['X-Forwarded-For', `198.51.${Math.floor(clients / 250) % 250}.${(clients % 250) + 1}`];
  };
  const register = (email: string) =>
    app.http
      .post('/auth/register')
      .set(...anotherClient())
      .send({ email, password: PASSWORD });
  const loginAs = (email: string, password = PASSWORD, client = anotherClient()) =>
    app.http
      .post('/auth/login')
      .set(...client)
      .send({ email, password });

  it('is a database where lower() folds İ to a plain i (the premise of this spec)', async () => {
    const [row] = await app.dataSource.query(
      `SELECT lower('\u0130rem') AS folded, current_setting('server_version') AS v`,
    );
    expect(row.folded).toBe('irem');
  });

  it('a lockout under one spelling holds under every spelling, and the İ look-alike is not the account', async () => {
    const local = fresh('irem');
    const email = `${local}@example.com`;
    await register(email).expect(201);
    // One client: five failures lock the address for it (LOGIN_MAX_FAILED_ATTEMPTS).
    const client = anotherClient();
    for (let i = 0; i < 5; i += 1) await loginAs(email, 'wrong password', client).expect(401);
    for (const spelling of [email.toUpperCase(), `IrEm${local.slice(4)}@Example.Com`, `${local}@EXAMPLE.com`]) {
      const refused = await loginAs(spelling, PASSWORD, client);
      expect([spelling, refused.status]).toEqual([spelling, 429]);
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    }
    // On this database lower() makes this spelling the account itself; it is another address.
    const lookAlike = await loginAs(`\u0130${local.slice(1)}@example.com`, PASSWORD, client);
    expect(lookAlike.status).toBe(401);
    expect(lookAlike.body).not.toHaveProperty('accessToken');
  });

  it('a look-alike registered first does not take the real address', async () => {
    const local = fresh('irem');
    const lookAlike = `\u0130${local.slice(1)}@example.com`;
    const real = `${local}@example.com`;
    const squatter = await register(lookAlike).expect(201);
    const owner = await register(real).expect(201);
    expect(owner.body.id).not.toBe(squatter.body.id);
    const signedIn = await loginAs(real).expect(200);
    const me = await app.http.get('/auth/me').set('Authorization', `Bearer ${signedIn.body.accessToken}`).expect(200);
    expect(me.body).toMatchObject({ id: owner.body.id, email: real });
  });

  it('every spelling of one address is one account: case, Unicode forms and the IDN domain; ß and ss stay two', async () => {
    const local = fresh('stra\u00dfe.caf\u00e9');
    const created = await register(`${local}@B\u00fccher.example`).expect(201);
    for (const taken of [
      `${local}@xn--bcher-kva.example`,
      `${local.replace('\u00df', '\u1e9e').toUpperCase()}@B\u00dcCHER.EXAMPLE`,
      `${local.replace('\u00df', '\u1e9e').replace('\u00e9', 'e\u0301')}@bu\u0308cher.example`,
    ]) {
      const refused = await register(taken);
      expect([taken, refused.status]).toEqual([taken, 409]);
    }
    const signedIn = await loginAs(`${local.replace('\u00df', '\u1e9e').toUpperCase()}@XN--BCHER-KVA.example`).expect(
      200,
    );
    const me = await app.http.get('/auth/me').set('Authorization', `Bearer ${signedIn.body.accessToken}`).expect(200);
    // The address is kept as it was given, for mail and display; its identity is the canonical form.
    expect(me.body).toMatchObject({ id: created.body.id, email: `${local}@B\u00fccher.example` });
    const [row] = await app.dataSource.query('SELECT email_canonical FROM users WHERE id = $1', [created.body.id]);
    expect(row.email_canonical).toBe(`${local}@xn--bcher-kva.example`);
    // ss is another mailbox than ß: another account, not a squat.
    await register(`${local.replace('\u00df', 'ss')}@b\u00fccher.example`).expect(201);
  });

  it('refuses an address written with compatibility characters (fullwidth, ligatures): 400, no account, no squat', async () => {
    const local = fresh('victim');
    const fullwidth = `\uff56${local.slice(1)}@example.com`;
    for (const route of ['/auth/register', '/auth/login', '/auth/password/forgot']) {
      const refused = await app.http
        .post(route)
        .set(...anotherClient())
        .send(route === '/auth/password/forgot' ? { email: fullwidth } : { email: fullwidth, password: PASSWORD });
      expect([route, refused.status, refused.body.message]).toEqual([
        route,
        400,
        ['email must be a valid email address'],
      ]);
    }
    await register(`${local}@example.com`).expect(201);
    await register(`\ufb01${local}@example.com`).expect(400);
  });

  it('the mail limit per address counts every spelling as one address', async () => {
    const local = fresh('mail');
    const email = `${local}@example.com`;
    await register(email).expect(201);
    const spellings = [
      email,
      email.toUpperCase(),
      `${local}@EXAMPLE.COM`,
      `${local}@Example.Com`,
      `${local.toUpperCase()}@example.com`,
    ];
    for (const spelling of spellings) {
      await app.http
        .post('/auth/password/forgot')
        .set(...anotherClient())
        .send({ email: spelling })
        .expect((response) => expect([spelling, response.status]).toEqual([spelling, 202]));
    }
    const refused = await app.http
      .post('/auth/password/forgot')
      .set(...anotherClient())
      .send({ email: `MaIl${local.slice(4)}@example.com` });
    expect(refused.status).toBe(429);
  });
});
