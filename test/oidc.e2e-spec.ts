import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type TestAgent from 'supertest/lib/agent.js';
import { FakeClock } from './support/fake-clock.js';
import {
  bearer,
  createTestApp,
  PASSWORD,
  registerAndLogin,
  startTwoInstances,
  type TwoInstances,
  uniqueEmail,
} from './support/test-app.js';
import { eventually } from './support/latch.js';
import { codeAt, enableTotp } from './support/mfa.js';
import { decode } from './support/tokens.js';
import { signInAtProvider, startTestProvider, type TestProvider } from './support/oidc-provider.js';
import { freePort } from './support/ports.js';
import { SECURITY_EVENT_HANDLER, type SecurityEvent } from '../src/auth/index.js';

/** The test apps' public URL (testConfig): where the provider sends browsers back. */
const PUBLIC_URL = 'http://localhost:3000';
const CALLBACK = `${PUBLIC_URL}/auth/oidc/test/callback`;
/** The same provider configured a second time, not trusted for the addresses it verifies. */
const PLAIN_CALLBACK = `${PUBLIC_URL}/auth/oidc/plain/callback`;
const BINDING = '__Host-auth_oidc';

describe('sign-in with an OpenID Provider (oidc-provider, in process)', () => {
  let clock: FakeClock;
  let provider: TestProvider;
  let instances: TwoInstances;
  let logins = 0;

  beforeAll(async () => {
    clock = new FakeClock();
    provider = await startTestProvider({ redirectUris: [CALLBACK, PLAIN_CALLBACK] });
    instances = await startTwoInstances(clock, {
      oidcProviders: [
        {
          id: 'test',
          name: 'Test ID',
          issuer: provider.issuer,
          clientId: provider.clientId,
          clientSecret: provider.clientSecret,
          trustEmailVerified: true,
        },
        {
          id: 'plain',
          name: 'Plain ID',
          issuer: provider.issuer,
          clientId: provider.clientId,
          clientSecret: provider.clientSecret,
        },
      ],
    });
    // Discovery runs in the background at start.
    for (const app of [instances.a, instances.b]) {
      await eventually(async () => (await app.http.get('/auth/oidc/providers')).body.length === 2, 10_000);
    }
  });

  afterAll(async () => {
    await instances?.close();
    await provider?.close();
  });

  /** A new account at the provider: its login, and its claims. */
  function providerAccount(claims: { email?: string; email_verified?: boolean } = {}) {
    logins += 1;
    const login = `person-${logins}`;
    const account = { sub: `sub-${logins}-${Date.now()}`, email: uniqueEmail('oidc'), email_verified: true, ...claims };
    provider.accounts.set(login, account);
    return { login, ...account };
  }

  interface Started {
    location: string;
    binding: string;
  }

  /** GET /auth/oidc/test/start: the redirect to the provider, and the browser's binding cookie. */
  async function start(
    http: TestAgent,
    query: Record<string, string> = {},
    binding?: string,
    providerId = 'test',
  ): Promise<Started> {
    const request = http.get(`/auth/oidc/${providerId}/start`).query(query);
    if (binding) request.set('Cookie', `${BINDING}=${binding}`);
    const response = await request.expect(302);
    const cookie = (response.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(`${BINDING}=`));
    expect(cookie).toMatch(/; Path=\/; Max-Age=600; HttpOnly; Secure; SameSite=Lax$/);
    return { location: response.headers.location as string, binding: (cookie as string).split(';')[0].split('=')[1] };
  }

  /** The provider's sign-in as `login`, then the callback as this browser (its binding cookie): the app's answer. */
  async function finish(http: TestAgent, started: Started, login: string, bend: (url: URL) => void = () => undefined) {
    const callback = await signInAtProvider(started.location, login, `${PUBLIC_URL}/auth/oidc/`);
    bend(callback);
    return http.get(`${callback.pathname}${callback.search}`).set('Cookie', `${BINDING}=${started.binding}`);
  }

  /** Where a failed sign-in lands, with its reason. */
  const failedWith = (reason: string) => `/account/sign-in?oidc_error=${reason}`;

  /** A bearer client's whole sign-in: start, provider, callback, exchange. */
  async function bearerSignIn(http: TestAgent, login: string) {
    const started = await start(http, { transport: 'bearer', returnTo: '/app/done' });
    const back = await finish(http, started, login);
    expect(back.status).toBe(302);
    const landed = new URL(back.headers.location as string, PUBLIC_URL);
    expect(landed.pathname).toBe('/app/done');
    const code = landed.searchParams.get('code') as string;
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // From the browser that started it (its binding cookie), as the pages and a same-site app do.
    const exchanged = await http
      .post('/auth/oidc/exchange')
      .set('Cookie', `${BINDING}=${started.binding}`)
      .send({ code });
    return { code, binding: started.binding, exchanged };
  }

  it('lists the provider, and sends the browser to it with state, nonce and PKCE S256', async () => {
    const { a } = instances;
    await a.http.get('/auth/oidc/providers').expect(200, [
      { id: 'test', name: 'Test ID' },
      { id: 'plain', name: 'Plain ID' },
    ]);
    const { location } = await start(a.http);
    const url = new URL(location);
    expect(url.origin).toBe(provider.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: provider.clientId,
      redirect_uri: CALLBACK,
      response_type: 'code',
      scope: 'openid email profile',
      code_challenge_method: 'S256',
      state: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    // The PKCE verifier and the nonce stay on the server: the browser holds only its binding.
    await a.http.get('/auth/oidc/nope/start').expect(302).expect('location', failedWith('unknown_provider'));
  });

  it('a first sign-in makes an account without a password (address verified as the provider says); a bearer client exchanges its one-time code once', async () => {
    const { a, b } = instances;
    const person = providerAccount();
    const { code, binding, exchanged } = await bearerSignIn(a.http, person.login);
    expect(exchanged.status).toBe(200);
    expect(exchanged.body).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
    const claims = decode(exchanged.body.accessToken);
    expect(claims.amr).toEqual(['fed']);
    await b.http
      .get('/auth/me')
      .set(...bearer(exchanged.body.accessToken))
      .expect(200)
      .expect((response) => expect(response.body).toMatchObject({ email: person.email, emailVerified: true }));
    const [user] = await a.dataSource.query('SELECT password_hash FROM users WHERE email = $1', [person.email]);
    expect(user.password_hash).toBeNull();
    const identities = await a.http
      .get('/auth/identities')
      .set(...bearer(exchanged.body.accessToken))
      .expect(200);
    expect(identities.body).toEqual([
      expect.objectContaining({ provider: 'test', providerName: 'Test ID', email: person.email }),
    ]);
    // Single use, even for the browser that started it.
    await b.http
      .post('/auth/oidc/exchange')
      .set('Cookie', `${BINDING}=${binding}`)
      .send({ code })
      .expect(401, { statusCode: 401, message: 'Invalid or expired code', error: 'Unauthorized' });
    // And only for that browser: a code sent to someone else (login CSRF) signs them into nothing,
    // and is spent by the attempt.
    const started = await start(a.http, { transport: 'bearer' });
    const back = await finish(a.http, started, person.login);
    const sentAway = new URL(back.headers.location as string, PUBLIC_URL).searchParams.get('code') as string;
    await b.http.post('/auth/oidc/exchange').send({ code: sentAway }).expect(401);
    await b.http
      .post('/auth/oidc/exchange')
      .set('Cookie', `${BINDING}=${started.binding}`)
      .send({ code: sentAway })
      .expect(401);
    // The same subject again: the same account.
    const again = await bearerSignIn(b.http, person.login);
    expect(decode(again.exchanged.body.accessToken).sub).toBe(claims.sub);
  });

  it('with cookies (the pages): the callback sets the session cookies and lands on returnTo', async () => {
    const { a } = instances;
    const person = providerAccount();
    const started = await start(a.http, { returnTo: '/account?welcome=1' });
    const back = await finish(a.http, started, person.login);
    expect(back.status).toBe(302);
    expect(back.headers.location).toBe('/account?welcome=1');
    expect(back.headers['cache-control']).toBe('no-store');
    const cookies = back.headers['set-cookie'] as unknown as string[];
    const access = cookies.find((cookie) => cookie.startsWith('__Host-auth_access='));
    expect(access).toBeDefined();
    expect(cookies.some((cookie) => cookie.startsWith('__Secure-auth_refresh='))).toBe(true);
    await a.http
      .get('/auth/me')
      .set('Cookie', (access as string).split(';')[0])
      .expect(200)
      .expect((response) => expect(response.body.email).toBe(person.email));
  });

  it('links to an existing account only when the provider is trusted, says the address is verified, and the local one is verified too', async () => {
    const { a } = instances;
    // A verified local account (its owner used the reset link, say): linked, signed in.
    const owner = await registerAndLogin(a.http);
    await a.dataSource.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [owner.userId]);
    const same = providerAccount({ email: owner.email.toUpperCase() });
    const linked = await bearerSignIn(a.http, same.login);
    expect(decode(linked.exchanged.body.accessToken).sub).toBe(owner.userId);

    // Pre-hijacking: someone registered the victim's address with a password of their own and
    // never verified it. The victim's first sign-in at the provider is not linked into it.
    const squatter = await registerAndLogin(a.http);
    const victim = providerAccount({ email: squatter.email });
    const refused = await finish(a.http, await start(a.http), victim.login);
    expect(refused.headers.location).toBe(failedWith('account_exists'));
    expect(refused.headers['set-cookie'] ?? []).not.toContainEqual(expect.stringMatching(/^__Host-auth_access=/));
    expect(
      await a.dataSource.query('SELECT count(*)::int AS n FROM user_identities WHERE user_id = $1', [squatter.userId]),
    ).toEqual([{ n: 0 }]);

    // A provider that does not say the address is verified: not linked either.
    const verifiedLocal = await registerAndLogin(a.http);
    await a.dataSource.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [verifiedLocal.userId]);
    const unverified = providerAccount({ email: verifiedLocal.email, email_verified: false });
    const notLinked = await finish(a.http, await start(a.http), unverified.login);
    expect(notLinked.headers.location).toBe(failedWith('account_exists'));
  });

  it('takes an address as verified only from a provider trusted for it', async () => {
    const { a } = instances;
    const person = providerAccount({ email_verified: true });
    const started = await start(a.http, { transport: 'bearer' }, undefined, 'plain');
    const back = await finish(a.http, started, person.login);
    const code = new URL(back.headers.location as string, PUBLIC_URL).searchParams.get('code') as string;
    const exchanged = await a.http
      .post('/auth/oidc/exchange')
      .set('Cookie', `${BINDING}=${started.binding}`)
      .send({ code })
      .expect(200);
    await a.http
      .get('/auth/me')
      .set(...bearer(exchanged.body.accessToken))
      .expect(200)
      .expect((response) => expect(response.body).toMatchObject({ email: person.email, emailVerified: false }));
  });

  it('connects a provider from a signed-in session with a recent sign-in; not for a session ended meanwhile, not from another site, not someone else’s', async () => {
    const { a, b } = instances;
    const owner = await registerAndLogin(a.http);
    const person = providerAccount({ email: uniqueEmail('elsewhere') });
    const link = (http: TestAgent, token: string, headers: Record<string, string> = {}) =>
      http
        .get('/auth/oidc/test/link')
        .query({ returnTo: '/account' })
        .set(...bearer(token))
        .set(headers);
    await link(a.http, owner.accessToken, { 'Sec-Fetch-Site': 'cross-site' }).expect(403);
    const asked = await link(a.http, owner.accessToken, { Accept: 'application/json' }).expect(200);
    const binding = ((asked.headers['set-cookie'] as unknown as string[])[0] ?? '').split(';')[0].split('=')[1];
    const back = await finish(b.http, { location: asked.body.location as string, binding }, person.login);
    expect(back.headers.location).toBe('/account');
    const identities = await a.http
      .get('/auth/identities')
      .set(...bearer(owner.accessToken))
      .expect(200);
    expect(identities.body).toEqual([expect.objectContaining({ provider: 'test', email: person.email })]);
    // That provider account now signs in as the owner.
    const signedIn = await bearerSignIn(a.http, person.login);
    expect(decode(signedIn.exchanged.body.accessToken).sub).toBe(owner.userId);

    // Someone else's: refused, nothing changes.
    const other = await registerAndLogin(a.http);
    const taken = await link(a.http, other.accessToken).expect(302);
    const binding2 = ((taken.headers['set-cookie'] as unknown as string[])[0] ?? '').split(';')[0].split('=')[1];
    const refused = await finish(
      a.http,
      { location: taken.headers.location as string, binding: binding2 },
      person.login,
    );
    expect(refused.headers.location).toBe('/account?oidc_error=identity_in_use');

    // The session that asked ended while the person was at the provider: nothing is linked.
    const third = await registerAndLogin(a.http);
    const stranger = providerAccount();
    const pending = await link(a.http, third.accessToken).expect(302);
    const binding3 = ((pending.headers['set-cookie'] as unknown as string[])[0] ?? '').split(';')[0].split('=')[1];
    await a.http
      .post('/auth/logout-all')
      .set(...bearer(third.accessToken))
      .expect(204);
    const ended = await finish(
      a.http,
      { location: pending.headers.location as string, binding: binding3 },
      stranger.login,
    );
    expect(ended.headers.location).toBe('/account?oidc_error=session_ended');
    expect(
      await a.dataSource.query('SELECT count(*)::int AS n FROM user_identities WHERE user_id = $1', [third.userId]),
    ).toEqual([{ n: 0 }]);

    // An old sign-in: connecting and disconnecting ask for a recent one.
    clock.advance(601);
    await link(a.http, owner.accessToken).expect(403);
    await a.http
      .delete(`/auth/identities/${identities.body[0].id as string}`)
      .set(...bearer(owner.accessToken))
      .expect(403);
  });

  it('an account without a password deletes itself after a recent sign-in, with no password to give', async () => {
    const { a } = instances;
    const person = providerAccount();
    const { exchanged } = await bearerSignIn(a.http, person.login);
    const token = exchanged.body.accessToken as string;
    clock.advance(601);
    await a.http
      .delete('/auth/account')
      .set(...bearer(token))
      .send({})
      .expect(403, { statusCode: 403, message: 'Recent authentication required', error: 'Forbidden' });
    const fresh = await bearerSignIn(a.http, person.login);
    await a.http
      .delete('/auth/account')
      .set(...bearer(fresh.exchanged.body.accessToken))
      .send({})
      .expect(204);
    expect(await a.dataSource.query('SELECT count(*)::int AS n FROM users WHERE email = $1', [person.email])).toEqual([
      { n: 0 },
    ]);
    // An account with a password still gives it.
    const owner = await registerAndLogin(a.http);
    await a.http
      .delete('/auth/account')
      .set(...bearer(owner.accessToken))
      .send({})
      .expect(400, { statusCode: 400, message: 'password is required', error: 'Bad Request' });
  });

  it('a user with only a passkey is asked for it after the provider', async () => {
    const { a } = instances;
    const person = providerAccount();
    const first = await bearerSignIn(a.http, person.login);
    await a.dataSource.query(
      `INSERT INTO passkeys (id, user_id, credential_id, public_key, counter, device_type, backed_up, name, created_at)
       VALUES (gen_random_uuid(), $1, 'cred-' || md5(random()::text), '\\x00', 0, 'singleDevice', false, 'Key', now())`,
      [decode(first.exchanged.body.accessToken).sub],
    );
    const { exchanged } = await bearerSignIn(a.http, person.login);
    expect(exchanged.body).toEqual({ mfaRequired: true, mfaToken: expect.any(String), methods: ['passkey'] });
  });

  it('refuses a tampered, missing or replayed state, and a callback in another browser', async () => {
    const { a } = instances;
    const person = providerAccount();
    const tampered = await finish(a.http, await start(a.http), person.login, (url) =>
      url.searchParams.set('state', `${url.searchParams.get('state')}x`),
    );
    expect(tampered.headers.location).toBe(failedWith('invalid_state'));
    const missing = await finish(a.http, await start(a.http), person.login, (url) => url.searchParams.delete('state'));
    expect(missing.headers.location).toBe(failedWith('invalid_state'));

    // Another browser (the attacker's callback URL opened in the victim's): its binding differs.
    const started = await start(a.http);
    const callback = await signInAtProvider(started.location, person.login, CALLBACK);
    const elsewhere = await a.http
      .get(`${callback.pathname}${callback.search}`)
      .set('Cookie', `${BINDING}=${'x'.repeat(43)}`);
    expect(elsewhere.headers.location).toBe(failedWith('invalid_state'));
    // That attempt spent the state: the right browser cannot use it after either.
    const replayed = await a.http
      .get(`${callback.pathname}${callback.search}`)
      .set('Cookie', `${BINDING}=${started.binding}`);
    expect(replayed.headers.location).toBe(failedWith('invalid_state'));
  });

  it('refuses an iss that is not the provider’s, a wrong nonce, an ID token for another audience, a replayed code', async () => {
    const { a } = instances;
    const person = providerAccount();
    const wrongIssuer = await finish(a.http, await start(a.http), person.login, (url) =>
      url.searchParams.set('iss', 'https://evil.example'),
    );
    expect(wrongIssuer.headers.location).toBe(failedWith('invalid_response'));

    provider.idTokenHook = (claims) => ({ ...claims, nonce: 'another-nonce' });
    try {
      const wrongNonce = await finish(a.http, await start(a.http), person.login);
      expect(wrongNonce.headers.location).toBe(failedWith('invalid_id_token'));
      provider.idTokenHook = (claims) => ({ ...claims, aud: 'another-client' });
      const otherAudience = await finish(a.http, await start(a.http), person.login);
      expect(otherAudience.headers.location).toBe(failedWith('invalid_id_token'));
      // Claims as they should be, signed by a key that is not the provider's (its JWKS decides).
      provider.idTokenHook = (claims) => claims;
      provider.foreignKey = true;
      const forged = await finish(a.http, await start(a.http), person.login);
      expect(forged.headers.location).toBe(failedWith('invalid_id_token'));
      provider.foreignKey = false;
      const genuine = await finish(a.http, await start(a.http), person.login);
      expect(genuine.headers.location).toBe('/account');
    } finally {
      provider.idTokenHook = null;
      provider.foreignKey = false;
    }

    // A code used once, presented again with a fresh state of this browser: the provider refuses it.
    const first = await start(a.http);
    const callback = await signInAtProvider(first.location, person.login, CALLBACK);
    const used = await a.http
      .get(`${callback.pathname}${callback.search}`)
      .set('Cookie', `${BINDING}=${first.binding}`);
    expect(used.headers.location).toBe('/account');
    const second = await start(a.http, {}, first.binding);
    const secondState = new URL(second.location).searchParams.get('state') as string;
    callback.searchParams.set('state', secondState);
    const replayed = await a.http
      .get(`${callback.pathname}${callback.search}`)
      .set('Cookie', `${BINDING}=${first.binding}`);
    expect(replayed.headers.location).toBe(failedWith('provider_error'));
  });

  it('lands only on a path of this site: https://evil.example and //evil.example go to the account page', async () => {
    const { a } = instances;
    const person = providerAccount();
    for (const returnTo of [
      'https://evil.example/x',
      '//evil.example/x',
      '/\\evil.example',
      'javascript:alert(1)',
      '/.//evil.example',
      '/a/..//evil.example',
      '/%2e//evil.example',
      '/%2E%2E//evil.example',
    ]) {
      const back = await finish(a.http, await start(a.http, { returnTo }), person.login);
      expect(back.headers.location).toBe('/account');
    }
  });

  it('a provider down during the code exchange: back to the sign-in page, no 500; then it works again', async () => {
    const { a } = instances;
    const person = providerAccount();
    const started = await start(a.http);
    const callback = await signInAtProvider(started.location, person.login, CALLBACK);
    await provider.pause();
    try {
      const down = await a.http
        .get(`${callback.pathname}${callback.search}`)
        .set('Cookie', `${BINDING}=${started.binding}`);
      expect(down.headers.location).toBe(failedWith('provider_unavailable'));
    } finally {
      await provider.resume();
    }
    const back = await finish(a.http, await start(a.http), person.login);
    expect(back.headers.location).toBe('/account');
  });

  it('asks for the second factor after the provider, as after a password: amr fed otp mfa', async () => {
    const { a } = instances;
    const person = providerAccount();
    const first = await bearerSignIn(a.http, person.login);
    const { secret } = await enableTotp(a.http, first.exchanged.body.accessToken, clock);
    const { exchanged } = await bearerSignIn(a.http, person.login);
    expect(exchanged.status).toBe(200);
    expect(exchanged.body).toEqual({
      mfaRequired: true,
      mfaToken: expect.any(String),
      methods: ['totp', 'recovery_code'],
    });
    const signedIn = await a.http
      .post('/auth/login/mfa')
      .send({ mfaToken: exchanged.body.mfaToken, code: codeAt(secret, clock.now()) })
      .expect(200);
    expect(decode(signedIn.body.accessToken).amr).toEqual(['otp', 'fed', 'mfa']);
    // With cookies, the callback sends the browser to the sign-in page with a one-time code for that step.
    const back = await finish(a.http, await start(a.http), person.login);
    expect(back.headers.location).toMatch(/^\/account\/sign-in\?oidc_code=[A-Za-z0-9_-]{43}$/);
    expect((back.headers['set-cookie'] as unknown as string[] | undefined) ?? []).not.toContainEqual(
      expect.stringMatching(/^__Host-auth_access=/),
    );
  });

  it('a session from a provider is an ordinary session: logout-all on one instance ends it on the other', async () => {
    const { a, b } = instances;
    const person = providerAccount();
    const { exchanged } = await bearerSignIn(a.http, person.login);
    await b.http
      .get('/profile')
      .set(...bearer(exchanged.body.accessToken))
      .expect(200);
    await a.http
      .post('/auth/logout-all')
      .set(...bearer(exchanged.body.accessToken))
      .expect(204);
    await eventually(
      async () => (await b.http.get('/profile').set(...bearer(exchanged.body.accessToken))).status === 401,
    );
  });

  it('disconnects a provider account unless it is the last way to sign in (409)', async () => {
    const { a } = instances;
    const person = providerAccount();
    const { exchanged } = await bearerSignIn(a.http, person.login);
    const token = exchanged.body.accessToken as string;
    const [identity] = (
      await a.http
        .get('/auth/identities')
        .set(...bearer(token))
        .expect(200)
    ).body as Array<{ id: string }>;
    await a.http
      .delete(`/auth/identities/${identity.id}`)
      .set(...bearer(token))
      .expect(409, {
        statusCode: 409,
        message: 'This connected account is the last way to sign in to the account',
        error: 'Conflict',
      });
    // With a password too (someone with a password account who connected the provider): it goes.
    const owner = await registerAndLogin(a.http);
    await a.dataSource.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [owner.userId]);
    const connected = providerAccount({ email: owner.email });
    await bearerSignIn(a.http, connected.login);
    const [ownIdentity] = (
      await a.http
        .get('/auth/identities')
        .set(...bearer(owner.accessToken))
        .expect(200)
    ).body as Array<{ id: string }>;
    await a.http
      .delete(`/auth/identities/${ownIdentity.id}`)
      .set(...bearer(owner.accessToken))
      .expect(204);
    await a.http
      .get('/auth/identities')
      .set(...bearer(owner.accessToken))
      .expect(200, []);
    void PASSWORD;
  });
});

describe('sign-in with a provider: its security events', () => {
  it('reports the account made, the link, the sign-in, a failure and a disconnection, with no code, state or token in any', async () => {
    const events: SecurityEvent[] = [];
    const provider = await startTestProvider({ redirectUris: [CALLBACK] });
    const app = await createTestApp({
      config: {
        oidcProviders: [
          {
            id: 'test',
            name: 'Test ID',
            issuer: provider.issuer,
            clientId: provider.clientId,
            clientSecret: provider.clientSecret,
            trustEmailVerified: true,
          },
        ],
      },
      overrides: [[SECURITY_EVENT_HANDLER, { handle: (event: SecurityEvent) => void events.push(event) }]],
    });
    try {
      await eventually(async () => (await app.http.get('/auth/oidc/providers')).body.length === 1, 10_000);
      const owner = await registerAndLogin(app.http);
      await app.dataSource.query('UPDATE users SET email_verified_at = now() WHERE id = $1', [owner.userId]);
      provider.accounts.set('owner', { sub: 'owner-sub', email: owner.email, email_verified: true });
      provider.accounts.set('new', { sub: 'new-sub', email: uniqueEmail('new'), email_verified: true });
      const signIn = async (login: string, bend: (url: URL) => void = () => undefined) => {
        const started = await app.http.get('/auth/oidc/test/start').expect(302);
        const binding = (started.headers['set-cookie'] as unknown as string[])[0].split(';')[0].split('=')[1];
        const callback = await signInAtProvider(started.headers.location as string, login, CALLBACK);
        bend(callback);
        return app.http.get(`${callback.pathname}${callback.search}`).set('Cookie', `${BINDING}=${binding}`);
      };
      expect((await signIn('owner')).headers.location).toBe('/account');
      expect((await signIn('new')).headers.location).toBe('/account');
      const failed = await signIn('new', (url) => url.searchParams.set('state', 'forged'));
      expect(failed.headers.location).toBe('/account/sign-in?oidc_error=invalid_state');
      const [identity] = (
        await app.http
          .get('/auth/identities')
          .set(...bearer(owner.accessToken))
          .expect(200)
      ).body as Array<{ id: string }>;
      await app.http
        .delete(`/auth/identities/${identity.id}`)
        .set(...bearer(owner.accessToken))
        .expect(204);
      const created = (await app.dataSource.query('SELECT id FROM users WHERE email_canonical = $1', [
        provider.accounts.get('new')?.email?.toLowerCase(),
      ])) as Array<{ id: string }>;
      const ofType = (type: string) => events.filter((event) => event.type === type);
      expect(ofType('identity_linked')).toEqual([
        expect.objectContaining({ userId: owner.userId, reason: 'test' }),
        expect.objectContaining({ userId: created[0].id, reason: 'test' }),
      ]);
      expect(ofType('user_registered')).toContainEqual(
        expect.objectContaining({ userId: created[0].id, reason: 'test' }),
      );
      expect(ofType('oidc_login').map((event) => event.userId)).toEqual([owner.userId, created[0].id]);
      expect(ofType('oidc_login_failed')).toEqual([
        expect.objectContaining({ userId: null, reason: 'invalid_state (test)' }),
      ]);
      expect(ofType('identity_unlinked')).toEqual([expect.objectContaining({ userId: owner.userId, reason: 'test' })]);
      const logged = JSON.stringify(events);
      // No code, state, nonce or token (43-character random values, JWTs) in any event.
      expect(logged).not.toMatch(/code=|eyJ|[A-Za-z0-9_-]{43}/);
    } finally {
      await app.close();
      await provider.close();
    }
  });
});

describe('an OpenID Provider that cannot be reached at start', () => {
  it('is left out and logged, the app runs, and its start route sends people back to the sign-in page', async () => {
    const port = await freePort();
    const app = await createTestApp({
      config: {
        oidcProviders: [
          {
            id: 'down',
            name: 'Down',
            issuer: `http://127.0.0.1:${port}`,
            clientId: 'nest-auth-tests',
            clientSecret: 'y',
          },
        ],
      },
    });
    try {
      await app.http.get('/auth/oidc/providers').expect(200, []);
      await app.http
        .get('/auth/oidc/down/start')
        .expect(302)
        .expect('location', '/account/sign-in?oidc_error=provider_unavailable');
      await app.http.get('/health').expect(200);
      // The provider comes up: tried again once 30 seconds have passed, it is listed and works.
      const late = await startTestProvider({ redirectUris: [`${PUBLIC_URL}/auth/oidc/down/callback`], port });
      try {
        await app.http.get('/auth/oidc/providers').expect(200, []);
        app.clock.advance(31);
        await eventually(async () => (await app.http.get('/auth/oidc/providers')).body.length === 1, 10_000);
        const started = await app.http.get('/auth/oidc/down/start').expect(302);
        expect(new URL(started.headers.location as string).origin).toBe(`http://127.0.0.1:${port}`);
      } finally {
        await late.close();
      }
    } finally {
      await app.close();
    }
  });

  it('counts starts per client in a budget of their own: past it, back to the sign-in page; passkey options unaffected', async () => {
    const events: SecurityEvent[] = [];
    const app = await createTestApp({
      config: {
        passwordChecksMaxPerIp: 2,
        oidcProviders: [{ id: 'x', name: 'X', issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y' }],
      },
      overrides: [[SECURITY_EVENT_HANDLER, { handle: (event: SecurityEvent) => void events.push(event) }]],
    });
    try {
      const client = ['X-Forwarded-For', '198.51.100.40'] as const;
      for (let i = 0; i < 2; i += 1) {
        await app.http
          .get('/auth/oidc/x/start')
          .set(...client)
          .expect(302)
          .expect('location', '/account/sign-in?oidc_error=provider_unavailable');
      }
      await app.http
        .get('/auth/oidc/x/start')
        .set(...client)
        .expect(302)
        .expect('location', '/account/sign-in?oidc_error=too_many_attempts');
      expect(events.filter((event) => event.type === 'login_throttled').map((event) => event.reason)).toEqual([
        'oidc_starts',
      ]);
      await app.http
        .post('/auth/passkeys/login/options')
        .set(...client)
        .send({})
        .expect(200);
      await app.http.get('/auth/oidc/x/start').set('X-Forwarded-For', '198.51.100.41').expect(302);
    } finally {
      await app.close();
    }
  });

  it('answers a hostile callback with a redirect, never a 500', async () => {
    const app = await createTestApp({
      config: {
        oidcProviders: [{ id: 'x', name: 'X', issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: 'y' }],
      },
    });
    try {
      for (const query of [
        '',
        '?state=',
        '?state=a&state=b&code=c',
        `?state=${'s'.repeat(5_000)}`,
        '?state=%ZZ&code=%00',
        '?error=access_denied&state=x',
      ]) {
        const response = await app.http
          .get(`/auth/oidc/x/callback${query}`)
          .set('Cookie', `${BINDING}=${'b'.repeat(43)}`);
        expect([response.status, response.headers.location]).toEqual([
          302,
          '/account/sign-in?oidc_error=invalid_state',
        ]);
      }
      await app.http.get('/auth/oidc/nope/callback?state=x').expect(302);
      await app.http.post('/auth/oidc/exchange').send({ code: 'short' }).expect(400);
      await app.http
        .post('/auth/oidc/exchange')
        .send({ code: 'a'.repeat(43) })
        .expect(401);
    } finally {
      await app.close();
    }
  });
});
