import { randomBytes, randomUUID } from 'node:crypto';
import {
  ConflictException,
  HttpException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import * as client from 'openid-client';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions, ResolvedOidc, ResolvedOidcProvider } from '../auth-module-options.interface.js';
import type { ClientInfo } from '../common/client-info.js';
import type { Clock } from '../common/clock.interface.js';
import { codePointLength } from '../common/client-address.js';
import { hasLoneSurrogate, isEmailAddress } from '../common/validators.js';
import { AUTH_ROUTE_PREFIX } from '../cookies/cookie-transport.service.js';
import { readCookie } from '../cookies/cookies.js';
import { type EventsOfChange, SecurityEventsService } from '../security-events/security-events.service.js';
import { TokenService } from '../tokens/token.service.js';
import { PasswordCheckBudgetService } from '../throttling/password-check-budget.service.js';
import { RateLimitRepository } from '../throttling/rate-limit.repository.js';
import { OidcProvidersService } from './oidc-providers.service.js';
import { type FederatedAccount, type FederatedRefusal, IdentityRace, OidcRepository } from './oidc.repository.js';

/**
 * The browser's binding to the sign-ins it started: a random value whose SHA-256 each transaction
 * row holds. `__Host-`: Secure, Path=/, no Domain (no sibling subdomain can plant one); SameSite=Lax,
 * since the callback is a top-level navigation from the provider's site.
 */
export const OIDC_BINDING_COOKIE = '__Host-auth_oidc';
/** A sign-in may take this long at the provider (seconds). */
const TRANSACTION_TTL_SECONDS = 600;
/** A bearer client's one-time code lives this long (seconds). */
const LOGIN_CODE_TTL_SECONDS = 60;
/** The longest state, code or returnTo read from a query. */
const MAX_PARAMETER_LENGTH = 2048;

/** Short reasons a failed sign-in is sent back to the sign-in page with (`?oidc_error=`). */
export type OidcFailure =
  | 'unknown_provider'
  | 'provider_unavailable'
  | 'invalid_state'
  | 'access_denied'
  | 'provider_error'
  | 'invalid_response'
  | 'invalid_id_token'
  | 'email_missing'
  | 'account_exists'
  | 'identity_in_use'
  | 'session_ended'
  | 'account_suspended'
  | 'email_not_verified'
  | 'too_many_attempts';

/** Where the browser goes next, and the cookies it gets on the way. */
export interface OidcRedirect {
  location: string;
  cookies: string[];
}

/** What a callback ends in: a redirect, or (cookie transport) a sign-in whose session the controller delivers. */
export type CallbackOutcome =
  | { kind: 'redirect'; redirect: OidcRedirect }
  | { kind: 'sign-in'; userId: string; provider: string; returnTo: string; bindingHash: string };

/** The start of a sign-in or a link: whose link, when one. */
export interface StartRequest {
  providerId: string;
  returnTo: unknown;
  transport: unknown;
  bindingCookie: string | null;
  ip: string | null;
  link?: { userId: string; sessionId: string };
}

/**
 * Sign-in with OpenID Connect providers (openid-client: discovery, PKCE, ID-token validation):
 * the start (state, nonce and PKCE S256, the transaction kept server-side and bound to the
 * browser), the callback (state, `iss`, the code exchange, the ID token's signature, audience,
 * nonce and expiry), the linking rules, and the one-time codes of bearer clients. A failure is a
 * redirect to the sign-in page with a short reason and an `oidc_login_failed` event, never a 500.
 */
@Injectable()
export class OidcService {
  constructor(
    private readonly providers: OidcProvidersService,
    private readonly repository: OidcRepository,
    private readonly events: SecurityEventsService,
    private readonly budget: PasswordCheckBudgetService,
    private readonly limits: RateLimitRepository,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
    @Inject(AUTH_ROUTE_PREFIX) private readonly routePrefix: string,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  /** The `oidc` options; 404 without them. */
  settings(): ResolvedOidc {
    if (!this.options.oidc)
      throw new NotFoundException('Sign-in with other providers is not configured on this server');
    return this.options.oidc;
  }

  /** The providers one can sign in with now (discovered): `[{id, name}]`. */
  list(): Array<{ id: string; name: string }> {
    this.settings();
    return this.providers.available().map(({ id, name }) => ({ id, name }));
  }

  /**
   * `GET /auth/oidc/:provider/start` (and `/link`): a redirect to the provider's authorization
   * endpoint with `state`, `nonce` and PKCE (S256). The transaction is kept in the database for 10
   * minutes, bound to this browser by the binding cookie (set when missing). Failures redirect to
   * the sign-in page (or, for a link, back to `returnTo`).
   */
  async start(request: StartRequest): Promise<OidcRedirect> {
    const settings = this.settings();
    const returnTo = safeReturnTo(request.returnTo, settings.pagesPath);
    const transport = request.transport === 'bearer' && !request.link ? 'code' : 'cookie';
    const failed = (reason: OidcFailure) =>
      this.failure(
        reason,
        request.providerId,
        request.link?.userId ?? null,
        request.ip,
        request.link ? returnTo : null,
      );
    const provider = this.providers.provider(request.providerId);
    if (!provider) return failed('unknown_provider');
    // Each start writes a row: counted per client, in a budget of its own (the password checks' numbers).
    try {
      this.budget.judge(await this.limits.hit(this.budget.hitsFor(request.ip, 'oidc-start')), request.ip, null);
    } catch (error) {
      if (error instanceof HttpException && error.getStatus() === 429) return failed('too_many_attempts');
      throw error;
    }
    const config = await this.providers.configuration(provider.id);
    if (!config) return failed('provider_unavailable');
    const binding =
      request.bindingCookie && /^[A-Za-z0-9_-]{43}$/.test(request.bindingCookie)
        ? request.bindingCookie
        : randomBytes(32).toString('base64url');
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    await this.repository.saveTransaction({
      stateHash: TokenService.hash(state),
      bindingHash: TokenService.hash(binding),
      provider: provider.id,
      nonce,
      codeVerifier,
      returnTo,
      transport,
      linkUserId: request.link?.userId ?? null,
      linkSessionId: request.link?.sessionId ?? null,
      expiresAt: new Date(this.clock.now().getTime() + TRANSACTION_TTL_SECONDS * 1000),
    });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(provider.id),
      scope: provider.scopes.join(' '),
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { location: url.href, cookies: [bindingCookie(binding)] };
  }

  /**
   * `GET /auth/oidc/:provider/callback`: the transaction of `state` (single use, this browser's,
   * this provider's), the code exchanged (PKCE verifier, state, `iss` when the provider announces
   * it, the ID token's signature by the provider's keys, `aud`, `nonce`, expiry), then the
   * account by the linking rules. Never throws: any failure is a redirect with its reason.
   */
  async callback(
    providerId: string,
    rawQuery: string,
    cookieHeader: string | string[] | undefined,
    info: ClientInfo,
  ): Promise<CallbackOutcome> {
    this.settings();
    const query = new URLSearchParams(rawQuery);
    const state = query.get('state');
    const fail = (
      reason: OidcFailure,
      userId: string | null = null,
      returnTo: string | null = null,
    ): CallbackOutcome => ({
      kind: 'redirect',
      redirect: this.failure(reason, providerId, userId, info.ip, returnTo),
    });
    if (!state || state.length > MAX_PARAMETER_LENGTH || rawQuery.length > 4 * MAX_PARAMETER_LENGTH) {
      return fail('invalid_state');
    }
    const transaction = await this.repository.takeTransaction(TokenService.hash(state), this.clock.now());
    const binding = readCookie(cookieHeader, OIDC_BINDING_COOKIE);
    if (
      !transaction ||
      transaction.provider !== providerId ||
      binding === null ||
      TokenService.hash(binding) !== transaction.bindingHash
    ) {
      return fail('invalid_state');
    }
    const linking = transaction.linkUserId !== null;
    const back = linking ? transaction.returnTo : null;
    const provider = this.providers.provider(providerId);
    const config = provider ? await this.providers.configuration(providerId) : null;
    if (!provider || !config) return fail('provider_unavailable', transaction.linkUserId, back);

    let claims: { subject: string; email: string | null; emailVerified: boolean };
    try {
      const callbackUrl = new URL(this.redirectUri(providerId));
      callbackUrl.search = rawQuery;
      const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: transaction.codeVerifier,
        expectedState: state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
      claims = await this.claimsOf(config, tokens);
    } catch (error) {
      return fail(failureOf(error), transaction.linkUserId, back);
    }

    if (linking) {
      const linked = await this.repository.link(
        { userId: transaction.linkUserId as string, sessionId: transaction.linkSessionId as string },
        { provider: providerId, ...claims },
        randomUUID(),
        this.clock.now(),
      );
      if (linked === 'identity_in_use' || linked === 'session_ended') {
        return fail(linked, transaction.linkUserId, back);
      }
      if (linked) {
        await this.events.emit('identity_linked', {
          userId: transaction.linkUserId,
          sessionId: transaction.linkSessionId ?? undefined,
          ip: info.ip,
          reason: providerId,
        });
      }
      return { kind: 'redirect', redirect: { location: transaction.returnTo, cookies: [] } };
    }

    let account: FederatedAccount | FederatedRefusal;
    // The events of the attempt that commits (an account made, a link), written in its transaction.
    let events = this.events.change();
    try {
      account = await this.signIn(provider, claims, events, info.ip);
    } catch (error) {
      // Two first sign-ins of this subject at once: the one that lost finds the other's link.
      if (!(error instanceof IdentityRace)) throw error;
      events = this.events.change();
      try {
        account = await this.signIn(provider, claims, events, info.ip);
      } catch (again) {
        if (again instanceof IdentityRace) return fail('provider_error');
        throw again;
      }
    }
    if (typeof account === 'string') return fail(account === 'user_gone' ? 'provider_error' : account);
    events.announce();
    if (transaction.transport === 'code') {
      const code = await this.loginCode(account.userId, providerId, transaction.bindingHash);
      if (code === null) return fail('provider_error'); // the account went meanwhile
      return { kind: 'redirect', redirect: { location: withQuery(transaction.returnTo, 'code', code), cookies: [] } };
    }
    return {
      kind: 'sign-in',
      userId: account.userId,
      provider: providerId,
      returnTo: transaction.returnTo,
      bindingHash: transaction.bindingHash,
    };
  }

  /**
   * A one-time code for a sign-in the pages finish (cookie transport, when a second step is
   * asked for): the sign-in page turns it into that step with `POST /auth/oidc/exchange`.
   */
  async secondStepRedirect(
    userId: string,
    providerId: string,
    bindingHash: string,
    ip: string | null,
  ): Promise<OidcRedirect> {
    const code = await this.loginCode(userId, providerId, bindingHash);
    if (code === null) return this.failure('provider_error', providerId, userId, ip, null);
    return { location: withQuery(`${this.settings().pagesPath}/sign-in`, 'oidc_code', code), cookies: [] };
  }

  /**
   * `POST /auth/oidc/exchange {code}`: the user of a one-time code (single use, 60 s), presented
   * by the browser that started the sign-in (its binding cookie); 401 otherwise.
   */
  async redeem(
    code: string,
    cookieHeader: string | string[] | undefined,
  ): Promise<{ userId: string; provider: string }> {
    this.settings();
    const binding = readCookie(cookieHeader, OIDC_BINDING_COOKIE);
    const found = await this.repository.takeLoginCode(
      TokenService.hash(code),
      binding === null ? null : TokenService.hash(binding),
      this.clock.now(),
    );
    if (!found) throw new UnauthorizedException('Invalid or expired code');
    return found;
  }

  /** The user's linked provider accounts, with the providers' names. */
  async identities(userId: string): Promise<
    Array<{
      id: string;
      provider: string;
      providerName: string;
      email: string | null;
      linkedAt: Date;
      lastUsedAt: Date | null;
    }>
  > {
    this.settings();
    return (await this.repository.listFor(userId)).map((identity) => ({
      ...identity,
      providerName: this.providers.provider(identity.provider)?.name ?? identity.provider,
    }));
  }

  /** `DELETE /auth/identities/:id`: 204; 404 unknown; 409 when it is the last way to sign in. */
  async unlink(user: { userId: string; sessionId: string }, id: string, ip: string | null): Promise<void> {
    this.settings();
    const events = this.events.change();
    const outcome = await this.repository.unlink(user.userId, id, (transaction, provider) =>
      events.write(transaction, 'identity_unlinked', {
        userId: user.userId,
        sessionId: user.sessionId,
        ip,
        reason: provider,
      }),
    );
    if (outcome.outcome === 'missing') throw new NotFoundException('No such connected account');
    if (outcome.outcome !== 'removed') {
      throw new ConflictException('This connected account is the last way to sign in to the account');
    }
    events.announce();
  }

  /** The redirect URI registered at each provider: `<publicUrl>/<routePrefix>/oidc/<id>/callback`. */
  redirectUri(providerId: string): string {
    return `${this.settings().publicUrl}/${this.routePrefix}/oidc/${providerId}/callback`;
  }

  /** The failure's redirect (the sign-in page, or `returnTo` for a link) and its event. */
  failure(
    reason: OidcFailure,
    providerId: string,
    userId: string | null,
    ip: string | null,
    returnTo: string | null,
  ): OidcRedirect {
    // Not awaited: the answer is a redirect the write does not change.
    void this.events.emit('oidc_login_failed', { userId, ip, reason: `${reason} (${providerId.slice(0, 32)})` });
    const target = returnTo ?? `${this.settings().pagesPath}/sign-in`;
    return { location: withQuery(target, 'oidc_error', reason), cookies: [] };
  }

  private signIn(
    provider: ResolvedOidcProvider,
    claims: { subject: string; email: string | null; emailVerified: boolean },
    events: EventsOfChange,
    ip: string | null,
  ): Promise<FederatedAccount | FederatedRefusal> {
    // An address counts as verified (of a new account, and for linking) only on the word of a
    // provider trusted for it: another could vouch for anyone's, and the account it made would
    // then pass for the address's owner's.
    const vouched = provider.trustEmailVerified && claims.emailVerified;
    return this.repository.signIn(
      { provider: provider.id, ...claims, emailVerified: vouched },
      vouched,
      { userId: randomUUID(), identityId: randomUUID() },
      this.clock.now(),
      async (transaction, account) => {
        const event = { userId: account.userId, ip, reason: provider.id };
        if (account.created) await events.write(transaction, 'user_registered', event);
        if (account.linked) await events.write(transaction, 'identity_linked', event);
      },
    );
  }

  /** `sub`, and the address (from the ID token, else the userinfo endpoint) when it is one this module can store. */
  private async claimsOf(
    config: client.Configuration,
    tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
  ): Promise<{ subject: string; email: string | null; emailVerified: boolean }> {
    const idToken = tokens.claims();
    const subject = idToken?.sub;
    if (
      typeof subject !== 'string' ||
      subject === '' ||
      codePointLength(subject) > 255 ||
      subject.includes('\u0000') ||
      hasLoneSurrogate(subject)
    ) {
      throw new InvalidClaims();
    }
    let email: unknown = idToken?.email;
    let verified: unknown = idToken?.email_verified;
    if (email === undefined && tokens.access_token) {
      try {
        const userinfo = await client.fetchUserInfo(config, tokens.access_token, subject);
        email = userinfo.email;
        verified = userinfo.email_verified;
      } catch {
        email = undefined;
      }
    }
    const usable = isEmailAddress(email) && codePointLength(email) <= 254 ? email : null;
    return { subject, email: usable, emailVerified: usable !== null && verified === true };
  }

  /** A one-time code for this browser (its binding); null when the user is gone. */
  private async loginCode(userId: string, providerId: string, bindingHash: string): Promise<string | null> {
    const code = randomBytes(32).toString('base64url');
    const saved = await this.repository.saveLoginCode(
      TokenService.hash(code),
      userId,
      providerId,
      bindingHash,
      new Date(this.clock.now().getTime() + LOGIN_CODE_TTL_SECONDS * 1000),
    );
    return saved ? code : null;
  }
}

/** An ID token without a usable `sub`. */
class InvalidClaims extends Error {}

/** What went wrong at the provider, in a word for the sign-in page. */
function failureOf(error: unknown): OidcFailure {
  if (error instanceof InvalidClaims) return 'invalid_id_token';
  if (error instanceof client.AuthorizationResponseError) {
    return error.error === 'access_denied' ? 'access_denied' : 'provider_error';
  }
  if (error instanceof client.ResponseBodyError) return 'provider_error';
  const code = (error as { code?: unknown })?.code;
  // fetch's own failure (refused, reset, DNS), bare or wrapped by openid-client; or its timeout.
  // (By name: fetch's errors may come from another realm than this module's TypeError.)
  const fetchFailed = (value: unknown) => (value as Error | undefined)?.name === 'TypeError';
  const unreachable = fetchFailed(error) || fetchFailed((error as Error | undefined)?.cause);
  if (code === 'OAUTH_TIMEOUT' || unreachable) return 'provider_unavailable';
  if (typeof code === 'string' && code.startsWith('OAUTH_JWT')) return 'invalid_id_token';
  if (code === 'OAUTH_JWS_SIGNATURE_VERIFICATION_FAILED') return 'invalid_id_token';
  // A signature the provider's keys do not verify reaches here as an invalid response; its cause says so.
  const cause = (error as Error | undefined)?.cause as Error | undefined;
  if (/signature/i.test(cause?.message ?? '')) return 'invalid_id_token';
  return 'invalid_response';
}

/**
 * A path on this origin only: one slash then not another (no `//evil.example`, no `/\evil`), no
 * control character, parsed back to itself; anything else is the fallback.
 */
export function safeReturnTo(value: unknown, fallback: string): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_PARAMETER_LENGTH ||
    !value.startsWith('/') ||
    value.startsWith('//') ||
    /[\\\p{Cc}]/u.test(value)
  ) {
    return fallback;
  }
  // No dot segment either, spelt out or percent-encoded: `/.//evil.example` would resolve to `//evil.example`.
  if (/(^|\/)(\.|%2e){1,2}(\/|$|\?|#)/i.test(value)) return fallback;
  try {
    const base = 'http://return-to.invalid';
    const url = new URL(value, base);
    const path = `${url.pathname}${url.search}${url.hash}`;
    // The result checked again, whatever the parser made of the input.
    return url.origin === base && !path.startsWith('//') && !path.startsWith('/\\') ? path : fallback;
  } catch {
    return fallback;
  }
}

function withQuery(target: string, name: string, value: string): string {
  const hash = target.indexOf('#');
  const path = hash === -1 ? target : target.slice(0, hash);
  const fragment = hash === -1 ? '' : target.slice(hash);
  return `${path}${path.includes('?') ? '&' : '?'}${name}=${encodeURIComponent(value)}${fragment}`;
}

function bindingCookie(value: string): string {
  return `${OIDC_BINDING_COOKIE}=${value}; Path=/; Max-Age=${TRANSACTION_TTL_SECONDS}; HttpOnly; Secure; SameSite=Lax`;
}
