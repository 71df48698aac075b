import { createSign, generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OpenID Provider for the specs: oidc-provider 9 (panva, OpenID Certified), in this
 * process on its own port, with one registered client, test accounts, PKCE required, its dev
 * login page (any password; the login is the account's id) and consent skipped. Nothing of the
 * protocol is mocked; a test may bend the token endpoint's ID token (`idTokenHook`), re-signed
 * with the provider's own key, to show what the app refuses.
 */

// oidc-provider prints notices about its development settings and Node 20 at import and start;
// the specs' output stays readable without them (its errors still show).
const quiet = (line: unknown) => typeof line === 'string' && /oidc-provider (WARNING|NOTICE)/.test(line);
for (const method of ['warn', 'info'] as const) {
  const original = console[method].bind(console);
  console[method] = (...args: unknown[]) => (quiet(args[0]) ? undefined : original(...args));
}
const { default: Provider } = await import('oidc-provider');

export interface TestAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accounts by login (the dev login page's first field). */
  accounts: Map<string, TestAccount>;
  /** Rewrites the claims of the next ID tokens, signed again with the provider's key. */
  idTokenHook: ((claims: Record<string, unknown>) => Record<string, unknown>) | null;
  /** With `idTokenHook`: sign with a key that is not the provider's (same kid) instead. */
  foreignKey: boolean;
  /** Stops answering (connections refused) until `resume`. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestProvider(options: { redirectUris: string[]; port?: number }): Promise<TestProvider> {
  const clientId = 'nest-auth-tests';
  const clientSecret = randomBytes(24).toString('base64url');
  const accounts = new Map<string, TestAccount>();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const foreignKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const jwk = privateKey.export({ format: 'jwk' }) as JsonWebKey;
  let server = http.createServer();
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    async findAccount(_ctx, id) {
      const account = accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ ...account }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Email claims in the ID token itself, as Google and Entra put them.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [{ ...jwk, kid: 'test-key', use: 'sig', alg: 'RS256' }] as never },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
    // First-party client: no consent page.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client!.clientId,
        accountId: ctx.oidc.session!.accountId,
      });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
  });
  provider.on('server_error', (_ctx: unknown, error: unknown) => console.error('[test OpenID Provider]', error));

  const testProvider: TestProvider = {
    issuer,
    clientId,
    clientSecret,
    accounts,
    idTokenHook: null,
    foreignKey: false,
    async pause() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
    async resume() {
      server = http.createServer(provider.callback());
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    close: () => testProvider.pause(),
  };

  // After the token endpoint has answered: the ID token rewritten by the test's hook, if any.
  provider.use(async (ctx, next) => {
    await next();
    const hook = testProvider.idTokenHook;
    const body = ctx.body as { id_token?: string } | undefined;
    if (hook && ctx.path === '/token' && body && typeof body.id_token === 'string') {
      const [header, payload] = body.id_token.split('.');
      const claims = hook(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>);
      const signingInput = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
      const key = testProvider.foreignKey ? foreignKey : privateKey;
      const signature = createSign('RSA-SHA256').update(signingInput).sign(key).toString('base64url');
      ctx.body = { ...body, id_token: `${signingInput}.${signature}` };
    }
  });
  server.on('request', provider.callback());
  return testProvider;
}

/** A browser's cookies for the provider's site (its login session). */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  store(response: Response): void {
    for (const cookie of response.headers.getSetCookie()) {
      const [pair, ...attributes] = cookie.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = value === '' || attributes.some((a) => /expires=thu, 01 jan 1970/i.test(a.trim()));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
}

/**
 * What a person does at the provider, headless: follows its redirects, fills its login form as
 * `login`, and answers the URL the provider sends the browser back to (the app's callback, with
 * `code`, `state` and `iss`), not fetched.
 */
export async function signInAtProvider(
  authorizationUrl: string,
  login: string,
  callbackPrefix: string,
  jar = new CookieJar(),
): Promise<URL> {
  let url = authorizationUrl;
  let init: RequestInit = { method: 'GET' };
  for (let hop = 0; hop < 20; hop += 1) {
    const response = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header() },
    });
    jar.store(response);
    if (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location') as string, url);
      if (next.href.startsWith(callbackPrefix)) return next;
      url = next.href;
      init = { method: 'GET' };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`the provider answered ${response.status}: ${html.slice(0, 300)}`);
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
    if (!action || !prompt) throw new Error(`no form on the provider's page: ${html.slice(0, 300)}`);
    url = new URL(action, url).href;
    const body =
      prompt === 'login' ? new URLSearchParams({ prompt, login, password: 'any' }) : new URLSearchParams({ prompt });
    init = { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } };
  }
  throw new Error('the provider redirected too many times');
}
