import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FakeClock } from './support/fake-clock.js';
import {
  bearer,
  createTestApp,
  PASSWORD,
  registerAndLogin,
  startTwoInstances,
  type TestAppWithDatabase,
  type TwoInstances,
} from './support/test-app.js';
import { SECURITY_EVENT_HANDLER, type SecurityEvent } from '../src/auth/index.js';
import { addPasskey, type Ceremony, SoftAuthenticator, TEST_RP } from './support/webauthn.js';
import { codeAt, enableTotp, passwordStep } from './support/mfa.js';
import { decode } from './support/tokens.js';
import { eventually, holdNextCall } from './support/latch.js';
import { PasskeyRepository } from '../src/auth/passkeys/passkey.repository.js';

const RP = TEST_RP;
const INVALID = { statusCode: 400, message: 'Invalid passkey response', error: 'Bad Request' };

describe('passkeys: registration and management (software authenticator, real verification)', () => {
  let clock: FakeClock;
  let instances: TwoInstances;

  beforeAll(async () => {
    clock = new FakeClock();
    instances = await startTwoInstances(clock);
  });

  afterAll(async () => {
    await instances.close();
  });

  async function options(http: TwoInstances['a']['http'], token: string) {
    const response = await http
      .post('/auth/passkeys/register/options')
      .set(...bearer(token))
      .expect(200);
    return response.body as { challenge: string; rp: { id: string; name: string }; user: { id: string; name: string } };
  }

  it('registers a passkey from the options of one instance on the other, lists, renames and removes it', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const created = await options(a.http, user.accessToken);
    expect(created.rp).toEqual({ id: 'localhost', name: 'nest-jwt-revocation example' });
    expect(created.user.name).toBe(user.email);
    // The user handle is opaque: the id's 16 bytes, not the address.
    expect(Buffer.from(created.user.id, 'base64url').toString('hex')).toBe(user.userId.replaceAll('-', ''));
    expect(created).toMatchObject({
      attestation: 'none',
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      excludeCredentials: [],
    });

    const authenticator = new SoftAuthenticator();
    const response = authenticator.register(created, RP);
    const registered = await b.http
      .post('/auth/passkeys/register')
      .set(...bearer(user.accessToken))
      .send({ response, name: 'Ada’s phone' })
      .expect(201);
    expect(registered.body).toEqual({
      id: expect.any(String),
      name: 'Ada’s phone',
      createdAt: clock.now().toISOString(),
    });
    // The same answer again: its challenge is spent.
    await a.http
      .post('/auth/passkeys/register')
      .set(...bearer(user.accessToken))
      .send({ response })
      .expect(400, INVALID);

    const listed = await a.http
      .get('/auth/passkeys')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(listed.body).toEqual([{ ...registered.body, lastUsedAt: null }]);
    await a.http
      .get('/auth/mfa')
      .set(...bearer(user.accessToken))
      .expect(200, { totp: false, passkeys: 1, recoveryCodesLeft: 0 });
    // The next options exclude it.
    expect((await options(b.http, user.accessToken)) as unknown).toMatchObject({
      excludeCredentials: [{ id: response.id, type: 'public-key', transports: ['internal'] }],
    });

    const renamed = await b.http
      .patch(`/auth/passkeys/${registered.body.id}`)
      .set(...bearer(user.accessToken))
      .send({ name: 'Work phone' })
      .expect(200);
    expect(renamed.body).toMatchObject({ id: registered.body.id, name: 'Work phone' });
    await a.http
      .delete(`/auth/passkeys/${registered.body.id}`)
      .set(...bearer(user.accessToken))
      .expect(204);
    await a.http
      .get('/auth/passkeys')
      .set(...bearer(user.accessToken))
      .expect(200, []);
    await a.http
      .delete(`/auth/passkeys/${registered.body.id}`)
      .set(...bearer(user.accessToken))
      .expect(404);
  });

  it('refuses an answer for another origin, another rpId, another session, or after five minutes', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const other = await registerAndLogin(a.http);
    const authenticator = new SoftAuthenticator();
    const send = (token: string, response: unknown) =>
      a.http
        .post('/auth/passkeys/register')
        .set(...bearer(token))
        .send({ response });

    await send(
      user.accessToken,
      authenticator.register(await options(a.http, user.accessToken), { ...RP, origin: 'https://evil.example' }),
    ).expect(400, INVALID);
    await send(
      user.accessToken,
      authenticator.register(await options(a.http, user.accessToken), { ...RP, rpId: 'evil.example' }),
    ).expect(400, INVALID);
    // A challenge handed to one user's session answers for nobody else.
    await send(other.accessToken, authenticator.register(await options(a.http, user.accessToken), RP)).expect(
      400,
      INVALID,
    );
    const late = await options(a.http, user.accessToken);
    clock.advance(301);
    const fresh = await a.http
      .post('/auth/reauthenticate')
      .set(...bearer(user.accessToken))
      .send({ password: 'correct horse battery' })
      .expect(200);
    await send(fresh.body.accessToken, authenticator.register(late, RP)).expect(400, INVALID);
    // Garbage is the same answer, never a 500.
    for (const response of [{}, { response: {} }, { response: { clientDataJSON: 'not base64 json' } }, { id: 1 }]) {
      await send(fresh.body.accessToken, response).expect(400, INVALID);
    }
    await a.http
      .get('/auth/passkeys')
      .set(...bearer(user.accessToken))
      .expect(200, []);
  });

  it('keeps only known transports, and refuses a credential id too long to store, with a 400', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const authenticator = new SoftAuthenticator();
    const register = async (bend: (response: { response: Record<string, unknown> }) => void, idBytes = 16) => {
      const response = authenticator.register(await options(a.http, user.accessToken), RP, { idBytes }) as {
        response: Record<string, unknown>;
      };
      bend(response);
      return a.http
        .post('/auth/passkeys/register')
        .set(...bearer(user.accessToken))
        .send({ response });
    };
    const stored = async () =>
      (await a.dataSource.query('SELECT transports FROM passkeys WHERE user_id = $1', [user.userId])) as Array<{
        transports: string[];
      }>;
    // Not a list (was a 500), then a list with a NUL, an unknown name and a repeat.
    expect((await register((response) => (response.response.transports = 'internal'))).status).toBe(201);
    expect(
      (await register((response) => (response.response.transports = ['internal', 'x\u0000', 'warp', 'usb', 'usb'])))
        .status,
    ).toBe(201);
    // (Both made at the same instant of the test's clock: in either order.)
    expect((await stored()).map((row) => [...row.transports].sort()).sort((x, y) => x.length - y.length)).toEqual([
      [],
      ['internal', 'usb'],
    ]);
    // 1,100 bytes: 1,467 characters of base64url, more than any stored id (was a 500).
    const long = await register(() => undefined, 1100);
    expect([long.status, long.body]).toEqual([400, INVALID]);
    expect(await stored()).toHaveLength(2);
  });

  it('keeps one pending challenge per purpose and session: options asked again replace the earlier', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    const pending = async () =>
      (
        (await a.dataSource.query('SELECT count(*)::int AS n FROM webauthn_challenges WHERE user_id = $1', [
          user.userId,
        ])) as Array<{ n: number }>
      )[0].n;
    const first = await options(a.http, user.accessToken);
    for (let i = 0; i < 5; i += 1) await options(a.http, user.accessToken);
    const last = await options(a.http, user.accessToken);
    expect(await pending()).toBe(1);
    const authenticator = new SoftAuthenticator();
    await a.http
      .post('/auth/passkeys/register')
      .set(...bearer(user.accessToken))
      .send({ response: authenticator.register(first, RP) })
      .expect(400, INVALID);
    await a.http
      .post('/auth/passkeys/register')
      .set(...bearer(user.accessToken))
      .send({ response: authenticator.register(last, RP) })
      .expect(201);
    expect(await pending()).toBe(0);
  });

  it('needs a recent authentication to add or remove one, not to list or rename', async () => {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    clock.advance(601);
    const recent = { statusCode: 403, message: 'Recent authentication required', error: 'Forbidden' };
    await a.http
      .post('/auth/passkeys/register/options')
      .set(...bearer(user.accessToken))
      .expect(403, recent);
    await a.http
      .post('/auth/passkeys/register')
      .set(...bearer(user.accessToken))
      .send({ response: {} })
      .expect(403, recent);
    await a.http
      .delete('/auth/passkeys/00000000-0000-4000-8000-000000000000')
      .set(...bearer(user.accessToken))
      .expect(403, recent);
    await a.http
      .get('/auth/passkeys')
      .set(...bearer(user.accessToken))
      .expect(200, []);
    await a.http
      .patch('/auth/passkeys/00000000-0000-4000-8000-000000000000')
      .set(...bearer(user.accessToken))
      .send({ name: 'x' })
      .expect(404);
    await a.http
      .patch('/auth/passkeys/not-a-uuid')
      .set(...bearer(user.accessToken))
      .send({ name: 'x' })
      .expect(400);
  });

  it('keeps one user’s passkey out of another’s reach, and goes with the account', async () => {
    const { a } = instances;
    const owner = await registerAndLogin(a.http);
    const stranger = await registerAndLogin(a.http);
    const authenticator = new SoftAuthenticator();
    const registered = await a.http
      .post('/auth/passkeys/register')
      .set(...bearer(owner.accessToken))
      .send({ response: authenticator.register(await options(a.http, owner.accessToken), RP) })
      .expect(201);
    await a.http
      .patch(`/auth/passkeys/${registered.body.id}`)
      .set(...bearer(stranger.accessToken))
      .send({ name: 'mine' })
      .expect(404);
    await a.http
      .delete(`/auth/passkeys/${registered.body.id}`)
      .set(...bearer(stranger.accessToken))
      .expect(404);
    await a.http
      .delete('/auth/account')
      .set(...bearer(owner.accessToken))
      .send({ password: 'correct horse battery' })
      .expect(204);
    expect(
      await a.dataSource.query('SELECT count(*)::int AS n FROM passkeys WHERE user_id = $1', [owner.userId]),
    ).toEqual([{ n: 0 }]);
  });

  it('an account without a password keeps its last passkey (409), even when two removals race; no password signs it in', async () => {
    const { a, b } = instances;
    const user = await registerAndLogin(a.http);
    const authenticator = new SoftAuthenticator();
    const ids: string[] = [];
    for (let n = 0; n < 3; n += 1) {
      const registered = await a.http
        .post('/auth/passkeys/register')
        .set(...bearer(user.accessToken))
        .send({ response: authenticator.register(await options(a.http, user.accessToken), RP) })
        .expect(201);
      ids.push(registered.body.id as string);
    }
    // No way to make such an account over HTTP yet (sign-in with other providers will): as it would be.
    await a.dataSource.query('UPDATE users SET password_hash = NULL WHERE id = $1', [user.userId]);
    // No password is right for it, not even the old one; the passkey still signs in.
    await a.http
      .post('/auth/login')
      .send({ email: user.email, password: PASSWORD })
      .expect(401, { statusCode: 401, message: 'Invalid email or password', error: 'Unauthorized' });
    await a.http
      .post('/auth/reauthenticate')
      .set(...bearer(user.accessToken))
      .send({ password: PASSWORD })
      .expect(401);
    const requested = await a.http.post('/auth/passkeys/login/options').send({ email: user.email }).expect(200);
    const signedIn = await a.http
      .post('/auth/passkeys/login')
      .send({
        response: authenticator.authenticate(requested.body.challenge, RP, {
          credential: authenticator.credentials[0],
        }),
      })
      .expect(200);
    expect(decode(signedIn.body.accessToken)).toMatchObject({ amr: ['hwk', 'user', 'mfa'] });

    await a.http
      .delete(`/auth/passkeys/${ids[0]}`)
      .set(...bearer(user.accessToken))
      .expect(204);

    // Two removals at once, one per instance, of the two passkeys left: both held behind the
    // user's row (a transaction of the test has it), then let go. One goes; the other is the last.
    const holder = a.dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    try {
      await holder.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [user.userId]);
      const removals = [
        a.http.delete(`/auth/passkeys/${ids[1]}`).set(...bearer(user.accessToken)),
        b.http.delete(`/auth/passkeys/${ids[2]}`).set(...bearer(user.accessToken)),
      ].map((request) => request.then((response) => response));
      await eventually(
        async () =>
          (
            (await a.dataSource.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND query LIKE '%has_password FROM users%FOR UPDATE%'`,
            )) as Array<{ n: number }>
          )[0].n === 2,
      );
      await holder.commitTransaction();
      const statuses = (await Promise.all(removals)).map((response) => response.status).sort();
      expect(statuses).toEqual([204, 409]);
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }
    const left = await a.http
      .get('/auth/passkeys')
      .set(...bearer(user.accessToken))
      .expect(200);
    expect(left.body).toHaveLength(1);
    await a.http
      .delete(`/auth/passkeys/${left.body[0].id}`)
      .set(...bearer(user.accessToken))
      .expect(409, {
        statusCode: 409,
        message: 'This passkey is the last way to sign in to the account',
        error: 'Conflict',
      });

    // Unheld, in a loop: whatever the order, one of two passkeys always stays.
    for (let round = 0; round < 10; round += 1) {
      const added = await a.http
        .post('/auth/passkeys/register')
        .set(...bearer(user.accessToken))
        .send({ response: authenticator.register(await options(a.http, user.accessToken), RP) })
        .expect(201);
      const both = [left.body[0].id as string, added.body.id as string];
      const order = Math.random() < 0.5 ? both : [...both].reverse();
      const outcomes = await Promise.all([
        a.http.delete(`/auth/passkeys/${order[0]}`).set(...bearer(user.accessToken)),
        b.http.delete(`/auth/passkeys/${order[1]}`).set(...bearer(user.accessToken)),
      ]);
      expect(outcomes.map((response) => response.status).sort()).toEqual([204, 409]);
      const [kept] = (
        await a.http
          .get('/auth/passkeys')
          .set(...bearer(user.accessToken))
          .expect(200)
      ).body as Array<{ id: string }>;
      left.body[0].id = kept.id;
    }
  });

  /** A user with a passkey made by `authenticator` (user verification as the ceremony says). */
  async function withPasskey(authenticator: SoftAuthenticator, ceremony: Ceremony = RP) {
    const { a } = instances;
    const user = await registerAndLogin(a.http);
    await addPasskey(a.http, user.accessToken, authenticator, ceremony);
    return user;
  }

  async function signIn(
    http: TwoInstances['a']['http'],
    authenticator: SoftAuthenticator,
    ceremony: Ceremony = RP,
    email?: string,
  ) {
    const requested = await http
      .post('/auth/passkeys/login/options')
      .send(email ? { email } : {})
      .expect(200);
    const response = authenticator.authenticate(requested.body.challenge, ceremony);
    return { response, answer: await http.post('/auth/passkeys/login').send({ response }) };
  }

  it('signs in with a passkey alone (autofill: no email), on the other instance: hwk user mfa when the user was verified', async () => {
    const { a, b } = instances;
    const authenticator = new SoftAuthenticator();
    const user = await withPasskey(authenticator);
    const requested = await b.http.post('/auth/passkeys/login/options').send({}).expect(200);
    expect(requested.body).toMatchObject({ rpId: 'localhost', userVerification: 'preferred', allowCredentials: [] });
    const response = authenticator.authenticate(requested.body.challenge, RP);
    const signedIn = await b.http.post('/auth/passkeys/login').send({ response }).expect(200);
    expect(signedIn.headers['cache-control']).toBe('no-store');
    expect(decode(signedIn.body.accessToken)).toMatchObject({ sub: user.userId, amr: ['hwk', 'user', 'mfa'] });
    await a.http
      .get('/profile/secure')
      .set(...bearer(signedIn.body.accessToken))
      .expect(200);
    const [listed] = (
      await a.http
        .get('/auth/passkeys')
        .set(...bearer(signedIn.body.accessToken))
        .expect(200)
    ).body;
    expect(listed.lastUsedAt).toBe(clock.now().toISOString());
    // Its challenge is spent.
    await a.http
      .post('/auth/passkeys/login')
      .send({ response })
      .expect(401, { statusCode: 401, message: 'Invalid passkey', error: 'Unauthorized' });
    // With the email, the options name the account's passkeys.
    const named = await a.http.post('/auth/passkeys/login/options').send({ email: user.email }).expect(200);
    expect(named.body.allowCredentials).toEqual([{ id: response.id, type: 'public-key', transports: ['internal'] }]);
  });

  it('refuses another origin, another rpId, a signature counter that does not increase; takes a synced passkey’s 0 every time', async () => {
    const { a } = instances;
    const authenticator = new SoftAuthenticator();
    const user = await withPasskey(authenticator);
    // A credential id no authenticator makes (a NUL the database would refuse): 401, never a 500.
    for (const id of ['\u0000', 'a b', 'x'.repeat(1401), 42]) {
      const requested = await a.http.post('/auth/passkeys/login/options').send({}).expect(200);
      const response = { ...authenticator.authenticate(requested.body.challenge, RP), id };
      await a.http.post('/auth/passkeys/login').send({ response }).expect(401);
    }
    expect((await signIn(a.http, authenticator, { ...RP, origin: 'https://evil.example' })).answer.status).toBe(401);
    expect((await signIn(a.http, authenticator, { ...RP, rpId: 'evil.example' })).answer.status).toBe(401);
    expect((await signIn(a.http, authenticator)).answer.status).toBe(200);
    const counter = async () =>
      (await a.dataSource.query('SELECT counter FROM passkeys WHERE user_id = $1', [user.userId]))[0].counter;
    const before = await counter();
    // A clone of the authenticator answers with a counter already seen.
    const requested = await a.http.post('/auth/passkeys/login/options').send({}).expect(200);
    const cloned = authenticator.authenticate(requested.body.challenge, RP, { counter: Number(before) });
    await a.http.post('/auth/passkeys/login').send({ response: cloned }).expect(401);
    expect(await counter()).toBe(before);

    const synced = new SoftAuthenticator();
    await withPasskey(synced, { ...RP, synced: true });
    for (let i = 0; i < 3; i += 1)
      expect((await signIn(a.http, synced, { ...RP, synced: true })).answer.status).toBe(200);
  });

  it('a passkey that did not verify the user is one factor: the user’s authenticator app is asked next', async () => {
    const { a, b } = instances;
    const authenticator = new SoftAuthenticator();
    const unverified = { ...RP, userVerified: false };
    const user = await withPasskey(authenticator, unverified);
    // Without an app: signed in, but not with two factors.
    const single = (await signIn(a.http, authenticator, unverified)).answer;
    expect(decode(single.body.accessToken).amr).toEqual(['hwk', 'user']);
    await a.http
      .get('/profile/secure')
      .set(...bearer(single.body.accessToken))
      .expect(403);

    const { secret } = await enableTotp(a.http, user.accessToken, clock);
    const first = (await signIn(b.http, authenticator, unverified)).answer;
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), methods: ['totp', 'recovery_code'] });
    // Never the same kind twice: the second step is the app, not another passkey answer.
    await a.http.post('/auth/login/mfa/passkey-options').send({ mfaToken: first.body.mfaToken }).expect(400);
    // Even with a second-step challenge of this user (here from a password sign-in's options).
    const byPassword = await a.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    const requested = await a.http
      .post('/auth/login/mfa/passkey-options')
      .send({ mfaToken: byPassword.body.mfaToken })
      .expect(200);
    await a.http
      .post('/auth/login/mfa')
      .send({
        mfaToken: first.body.mfaToken,
        passkey: authenticator.authenticate(requested.body.challenge, unverified),
      })
      .expect(401, { statusCode: 401, message: 'Invalid code', error: 'Unauthorized' });
    const second = await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: first.body.mfaToken, code: codeAt(secret, clock.now()) })
      .expect(200);
    expect(decode(second.body.accessToken).amr).toEqual(['otp', 'hwk', 'user', 'mfa']);
    // A verified passkey is both factors: no second step.
    const verified = (await signIn(b.http, authenticator, RP)).answer;
    expect(decode(verified.body.accessToken).amr).toEqual(['hwk', 'user', 'mfa']);
  });

  it('serves as the second step after a password; another user’s passkey does not', async () => {
    const { a, b } = instances;
    const authenticator = new SoftAuthenticator();
    const user = await withPasskey(authenticator);
    await enableTotp(a.http, user.accessToken, clock);
    const first = await b.http.post('/auth/login').send({ email: user.email, password: PASSWORD }).expect(200);
    expect(first.body.methods).toEqual(['totp', 'recovery_code', 'passkey']);
    const mfaToken = first.body.mfaToken as string;
    const requested = await a.http.post('/auth/login/mfa/passkey-options').send({ mfaToken }).expect(200);
    expect(requested.body.allowCredentials).toEqual([
      { id: authenticator.credentials[0].id.toString('base64url'), type: 'public-key', transports: ['internal'] },
    ]);

    // A passkey of someone else answering this user's challenge: a wrong second factor.
    const stranger = new SoftAuthenticator();
    await withPasskey(stranger);
    await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken, passkey: stranger.authenticate(requested.body.challenge, RP) })
      .expect(401, { statusCode: 401, message: 'Invalid code', error: 'Unauthorized' });

    // An answer to this step's challenge is no answer to another pending sign-in of the same
    // user (whoever knows the password could have started one): each step has its own.
    const misplaced = await a.http.post('/auth/login/mfa/passkey-options').send({ mfaToken }).expect(200);
    const other = await passwordStep(b.http, user.email);
    await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken: other, passkey: authenticator.authenticate(misplaced.body.challenge, RP) })
      .expect(401, { statusCode: 401, message: 'Invalid code', error: 'Unauthorized' });

    const again = await a.http.post('/auth/login/mfa/passkey-options').send({ mfaToken }).expect(200);
    const signedIn = await b.http
      .post('/auth/login/mfa')
      .send({ mfaToken, passkey: authenticator.authenticate(again.body.challenge, RP) })
      .expect(200);
    expect(decode(signedIn.body.accessToken).amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
    await a.http.post('/auth/login/mfa/passkey-options').send({ mfaToken }).expect(401);
  });

  it('re-authenticates with a passkey: a fresh auth_time for the same session', async () => {
    const { a, b } = instances;
    const authenticator = new SoftAuthenticator();
    const user = await withPasskey(authenticator);
    clock.advance(601);
    await a.http
      .post('/auth/mfa/totp/setup')
      .set(...bearer(user.accessToken))
      .expect(403);
    const requested = await b.http
      .post('/auth/reauthenticate/passkey-options')
      .set(...bearer(user.accessToken))
      .expect(200);
    // Answered on the other user's session: the challenge is this session's.
    const other = await registerAndLogin(a.http);
    await a.http
      .post('/auth/reauthenticate')
      .set(...bearer(other.accessToken))
      .send({ passkey: authenticator.authenticate(requested.body.challenge, RP) })
      .expect(401);
    const fresh = await b.http
      .post('/auth/reauthenticate/passkey-options')
      .set(...bearer(user.accessToken))
      .expect(200);
    const again = await a.http
      .post('/auth/reauthenticate')
      .set(...bearer(user.accessToken))
      .send({ passkey: authenticator.authenticate(fresh.body.challenge, RP) })
      .expect(200);
    expect(decode(again.body.accessToken)).toMatchObject({
      sid: user.sessionId,
      auth_time: Math.floor(clock.now().getTime() / 1000),
      amr: ['pwd', 'hwk', 'user', 'mfa'],
    });
    await a.http
      .post('/auth/mfa/totp/setup')
      .set(...bearer(again.body.accessToken))
      .expect(200);
  });
});

describe('passkeys: the budget of sign-in checks, and the counter’s event', () => {
  const events: SecurityEvent[] = [];
  let t: TestAppWithDatabase;

  beforeAll(async () => {
    t = await createTestApp({
      config: { passwordChecksMaxPerIp: 3 },
      overrides: [[SECURITY_EVENT_HANDLER, { handle: (event: SecurityEvent) => void events.push(event) }]],
    });
  });

  afterAll(async () => {
    await t.close();
  });

  it('counts passwordless options against a budget of their own (429 past it), not the client’s password checks, not another client’s', async () => {
    const user = await registerAndLogin(t.http);
    const client = ['X-Forwarded-For', '198.51.100.7'] as const;
    for (let i = 0; i < 3; i += 1)
      await t.http
        .post('/auth/passkeys/login/options')
        .set(...client)
        .send({})
        .expect(200);
    const refused = await t.http
      .post('/auth/passkeys/login/options')
      .set(...client)
      .send({});
    expect(refused.status).toBe(429);
    expect(refused.body.message).toMatch(/^Too many passkey sign-ins from this address; retry in \d+ seconds$/);
    expect(refused.headers['retry-after']).toEqual(expect.any(String));
    expect(events.filter((event) => event.type === 'login_throttled').map((event) => event.reason)).toEqual([
      'passkey_options',
    ]);
    // The page views of a network (the sign-in page asks on load) leave its people's passwords alone.
    await t.http
      .post('/auth/login')
      .set(...client)
      .send({ email: user.email, password: PASSWORD })
      .expect(200);
    await t.http.post('/auth/passkeys/login/options').set('X-Forwarded-For', '198.51.100.8').send({}).expect(200);
  });

  it('answers 404 on a server without passkeys before counting or reading anything', async () => {
    const off = await createTestApp({ config: { passwordChecksMaxPerIp: 1, passkeyOrigin: null } });
    try {
      for (let i = 0; i < 3; i += 1) {
        await off.http.post('/auth/passkeys/login/options').send({ email: 'someone@example.com' }).expect(404);
      }
      expect(await off.dataSource.query('SELECT count(*)::int AS n FROM rate_limit_hits')).toEqual([{ n: 0 }]);
    } finally {
      await off.close();
    }
  });

  it('reports a signature counter that did not increase, and refuses the answer', async () => {
    const authenticator = new SoftAuthenticator();
    const user = await registerAndLogin(t.http);
    await addPasskey(t.http, user.accessToken, authenticator, RP);
    const signIn = async (counter?: number) => {
      const requested = await t.http
        .post('/auth/passkeys/login/options')
        .set('X-Forwarded-For', '203.0.113.9')
        .send({});
      const response = authenticator.authenticate(
        requested.body.challenge,
        RP,
        counter === undefined ? {} : { counter },
      );
      return (await t.http.post('/auth/passkeys/login').send({ response })).status;
    };
    expect(await signIn()).toBe(200);
    expect(await signIn()).toBe(200);
    expect(events.filter((event) => event.type === 'passkey_counter_regressed')).toEqual([]);
    expect(await signIn(1)).toBe(401);
    expect(events.filter((event) => event.type === 'passkey_counter_regressed')).toEqual([
      expect.objectContaining({ userId: user.userId, reason: '1 <= 2' }),
    ]);
    expect(events.filter((event) => event.type === 'passkey_login').length).toBeGreaterThanOrEqual(2);
  });

  it('a passkey removed while its sign-in is checked is refused without a counter event', async () => {
    const authenticator = new SoftAuthenticator();
    const user = await registerAndLogin(t.http);
    await addPasskey(t.http, user.accessToken, authenticator, RP);
    const requested = await t.http.post('/auth/passkeys/login/options').send({}).expect(200);
    // Held after the signature was checked, before the counter's UPDATE; the passkey goes meanwhile.
    const held = holdNextCall(t.app.get(PasskeyRepository), 'used');
    try {
      const answer = t.http
        .post('/auth/passkeys/login')
        .send({ response: authenticator.authenticate(requested.body.challenge, RP) })
        .then((response) => response);
      await held.latch.reached;
      await t.dataSource.query('DELETE FROM passkeys WHERE user_id = $1', [user.userId]);
      held.latch.release();
      const refused = await answer;
      expect([refused.status, refused.body.message]).toEqual([401, 'Invalid passkey']);
    } finally {
      held.restore();
    }
    expect(
      events.filter((event) => event.type === 'passkey_counter_regressed' && event.userId === user.userId),
    ).toEqual([]);
  });
});
