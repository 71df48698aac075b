/**
 * The browser client of nest-jwt-revocation (`import { createAuthClient } from
 * 'nest-jwt-revocation/client'`): cookie transport, so no token is ever readable by a script;
 * refresh before expiry, and once on a 401 for an expired token; refreshes single-flight across
 * tabs (Web Locks); a sign-out in one tab signs the others out (BroadcastChannel). No
 * dependencies, one ES module.
 */

export interface AuthClientOptions {
  /** Where the API is: '' (default) for the page's own origin. */
  baseUrl?: string;
  /** The module's route prefix. Default '/auth'. */
  authPath?: string;
  /** Refresh this many seconds before the access token expires. Default 30. */
  refreshMarginSeconds?: number;
  /** Names the lock, the channel and the storage key: several apps on one origin need their own. Default 'nest-jwt-revocation'. */
  namespace?: string;
}

export interface PublicUser {
  id: string;
  email: string;
  /** Whether the address was confirmed (verification link, or a password reset by mail). */
  emailVerified: boolean;
}

export interface Device {
  id: string;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  current: boolean;
}

export interface SignedIn {
  sessionId: string;
  /** Seconds until the access token expires (the client refreshes before). */
  expiresIn: number;
  /** Whether the account's email address is verified. */
  emailVerified?: boolean;
}

/** How the second step of a sign-in can be completed, as the API names them. */
export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey';

/**
 * What `signIn` resolves to when the password was right but the account has a second factor: no
 * session yet (and no cookie). Complete it with `completeSignIn(mfaToken, …)` within 5 minutes.
 */
export interface MfaChallenge {
  mfaRequired: true;
  /** Single use; dies after 5 minutes or 5 wrong codes (then sign in again). */
  mfaToken: string;
  methods: SecondFactorMethod[];
}

/**
 * The second factor of a sign-in: a code from the authenticator app, one of the recovery codes,
 * or `{ passkey: true }`: one of the user's passkeys, asked of the browser (when `methods` lists
 * `passkey`).
 */
export type SecondFactorProof = { code: string } | { recoveryCode: string } | { passkey: true };

/** The proof of a re-authentication (`reauthenticate`): the password, a code from the app, or one of the user's passkeys. */
export type ReauthenticationProof = { password: string } | { code: string } | { passkey: true };

/** One of the user's passkeys (`GET /auth/passkeys`). */
export interface Passkey {
  id: string;
  name: string;
  createdAt: string;
  /** When it last signed in or re-authenticated; null when never. */
  lastUsedAt: string | null;
}

/** How `signInWithPasskey` asks the browser. */
export interface PasskeySignInOptions {
  /** Only this account's passkeys (otherwise any passkey of this site: discoverable credentials). */
  email?: string;
  /**
   * Conditional mediation: the browser offers the site's passkeys in the autofill of a field with
   * `autocomplete="username webauthn"`, and the promise resolves once one is picked there (it may
   * stay pending for the life of the page). Any other passkey ceremony of this client aborts it,
   * as does `signal`; an aborted request rejects with a DOMException named `AbortError`.
   */
  autofill?: boolean;
  signal?: AbortSignal;
}

/** The caller's second factors (`GET /auth/mfa`). */
export interface MfaStatus {
  /** Whether an authenticator app is on (one set up but not yet turned on is not). */
  totp: boolean;
  passkeys: number;
  recoveryCodesLeft: number;
}

/** A new authenticator-app secret, pending until `enableTotp` turns it on with a code from the app. */
export interface TotpSetup {
  /** Base32, for typing into the app by hand. */
  secret: string;
  /** The same secret as the `otpauth://` URL a QR code carries. */
  otpauthUrl: string;
}

/** Why the session ended, as listeners hear it. */
export type SignedOutReason = 'signed-out' | 'session-ended';

/** An answer of the API that is not a success, in Nest's shape. */
export class AuthApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Seconds from `Retry-After` (429, 503), when given. */
    readonly retryAfter: number | null,
  ) {
    super(message);
    this.name = 'AuthApiError';
  }
}

export interface AuthClient {
  /**
   * Signs in with the password. For an account with a second factor this signs nobody in yet: it
   * resolves to an `MfaChallenge` (tell them apart with `'mfaRequired' in result`), to complete
   * with `completeSignIn`.
   */
  signIn(email: string, password: string, deviceName?: string): Promise<SignedIn | MfaChallenge>;
  /**
   * The second step of a sign-in: the challenge's `mfaToken` and a code from the authenticator app
   * or a recovery code (each works once). A wrong code is a 401 `Invalid code` (the token takes 5);
   * a used, expired or dead token a 401 `Invalid or expired mfaToken: sign in again`.
   */
  completeSignIn(mfaToken: string, proof: SecondFactorProof): Promise<SignedIn>;
  /** Creates the account, then signs in. */
  signUp(email: string, password: string, deviceName?: string): Promise<SignedIn>;
  /** Signs this device out. */
  signOut(): Promise<void>;
  /** Signs out every other device; this one stays. */
  signOutOthers(): Promise<void>;
  /** Signs out every device, this one included. */
  signOutEverywhere(): Promise<void>;
  me(): Promise<PublicUser>;
  devices(): Promise<Device[]>;
  revokeDevice(sessionId: string): Promise<void>;
  changePassword(currentPassword: string, newPassword: string): Promise<void>;
  deleteAccount(password: string): Promise<void>;
  /** Asks for a password-reset link by mail; resolves to the server's answer (the same whether the account exists or not). */
  requestPasswordReset(email: string): Promise<string>;
  /**
   * Sets a new password with the token of a reset link. Every session of the account ends, this
   * browser's too (its tabs hear it).
   */
  resetPassword(token: string, newPassword: string): Promise<void>;
  /** Confirms the email address with the token of a verification link. */
  verifyEmail(token: string): Promise<void>;
  /**
   * Secures the account with the token of a new-device alert's "This wasn't me" link: every
   * session of the account ends on every instance, this browser's too (its tabs hear it), and a
   * link to set a new password is mailed to the account's address. A used or expired link, or one
   * a newer alert replaced, is a 400 `Invalid or expired link`; a server that sends no mail
   * answers 404.
   */
  secureAccount(token: string): Promise<void>;
  /** Asks for a new verification link by mail; resolves to the server's answer. */
  resendVerification(email: string): Promise<string>;
  /** Whether an authenticator app is on, and how many recovery codes are left. */
  mfaStatus(): Promise<MfaStatus>;
  // setupTotp, enableTotp, disableTotp and regenerateRecoveryCodes need a recent authentication:
  // a sign-in or a `reauthenticate` within the server's `recentAuthMaxAge` (10 minutes by
  // default). Otherwise they fail with an AuthApiError 403 `Recent authentication required`, and
  // succeed once `reauthenticate` has. While the app is on, disableTotp and
  // regenerateRecoveryCodes also need a session that has shown it (signed in with a code, turned
  // it on, or re-authenticated with a code): otherwise a 403 `Second factor required`, which only
  // `reauthenticate({ code })` cures (a password re-authentication does not).
  /** Starts setting up an authenticator app: a new secret, pending (replacing one never turned on); 409 when one is on. */
  setupTotp(): Promise<TotpSetup>;
  /**
   * The QR code of an `otpauthUrl` (the one `setupTotp` answered, so that the picture and the
   * secret shown beside it are the same): an SVG document, as text. The server draws the URL sent
   * and reads nothing of the account. Show it inline (DOMParser as image/svg+xml, then
   * importNode): no `data:` URL or other origin's image is needed.
   */
  totpQrCode(otpauthUrl: string): Promise<string>;
  /**
   * Turns the pending app on with a code from it (400 `Invalid code` otherwise); resolves to the
   * ten recovery codes, shown this once. This session then counts as two-factor, and every other
   * session of the user ends (other browsers are signed out; this one's tabs stay).
   */
  enableTotp(code: string): Promise<string[]>;
  /** Turns the authenticator app off; its recovery codes go with it. */
  disableTotp(): Promise<void>;
  /** Ten new recovery codes, shown this once; the old ones stop working. */
  regenerateRecoveryCodes(): Promise<string[]>;
  /**
   * Shows the password, or a code from the app, again: the session's authentication is recent
   * again (a new access cookie; the session and its refresh cookie stay). A code also makes the
   * session one that has shown the app (what a 403 `Second factor required` asks for). Wrong: 401.
   */
  reauthenticate(proof: ReauthenticationProof): Promise<void>;
  /** Whether this browser can use passkeys at all (WebAuthn, in a secure context). */
  passkeysSupported(): boolean;
  /** Whether this browser offers passkeys in autofill (conditional mediation). */
  passkeyAutofillAvailable(): Promise<boolean>;
  /**
   * Signs in with a passkey, alone: the browser asks for one (or, with `autofill`, waits for one
   * picked in autofill). Resolves as `signIn` does: signed in, or an `MfaChallenge` when the
   * passkey did not verify the user and the account has an authenticator app. A passkey the
   * server does not accept is a 401 `Invalid passkey`; one the person declined, a DOMException
   * `NotAllowedError`.
   */
  signInWithPasskey(options?: PasskeySignInOptions): Promise<SignedIn | MfaChallenge>;
  /**
   * Creates a passkey on this device for the signed-in user and stores it (named `name`, else
   * `Passkey`). Needs a recent authentication (403 `Recent authentication required` otherwise).
   */
  addPasskey(name?: string): Promise<Passkey>;
  /** The user's passkeys, oldest first. */
  listPasskeys(): Promise<Passkey[]>;
  renamePasskey(id: string, name: string): Promise<Passkey>;
  /** Needs a recent authentication; the last way to sign in (no password, no other passkey) is a 409. */
  removePasskey(id: string): Promise<void>;
  /** The OpenID Connect providers one can sign in with (`[]` when the server has none). */
  oidcProviders(): Promise<OidcProvider[]>;
  /**
   * Signs in with a provider: this page goes to the provider, then comes back to `returnTo` (a
   * path of this site) signed in, or to the sign-in page with `?oidc_error=<reason>`, or with
   * `?oidc_code=<code>` when a second factor is due (then `completeOidcSignIn`).
   */
  signInWith(providerId: string, returnTo?: string): void;
  /** Turns the one-time code a provider sign-in came back with into the session, or its second step. */
  completeOidcSignIn(code: string): Promise<SignedIn | MfaChallenge>;
  /** Connects a provider to the signed-in account (needs a recent authentication): this page goes to the provider. */
  connectProvider(providerId: string, returnTo?: string): Promise<void>;
  /** The account's connected provider accounts, oldest first. */
  listIdentities(): Promise<Identity[]>;
  /** Disconnects one; the last way to sign in (no password, no passkey, no other) is a 409. */
  unlinkIdentity(id: string): Promise<void>;
  /**
   * The user's own security events, newest first, 20 a page: sign-ins and failed ones, changes of
   * the password and second factors, sessions ended. Without `cursor`, the newest page; with the
   * `nextCursor` of a page, the next (older) one, until `nextCursor` is null. A cursor the server
   * did not give is a 400 `Invalid cursor`.
   */
  activity(cursor?: string): Promise<ActivityPage>;
  /** `fetch` for the host's own API: cookie transport, refresh before expiry and once on expiry. */
  fetch(input: string, init?: RequestInit): Promise<Response>;
  /** Whether this browser holds a session, as far as the client knows (it signed in, and has not seen it end). */
  isSignedIn(): boolean;
  /**
   * Takes up a session this client did not open itself (the server set its cookies: a sign-in
   * at another provider landed here): refreshes it, and keeps its expiry. False when there is none.
   */
  resumeSession(): Promise<boolean>;
  /** Called when the session ends: signed out here or in another tab, or ended elsewhere (401). */
  onSignedOut(listener: (reason: SignedOutReason) => void): () => void;
}

/** An OpenID Connect provider to sign in with. */
export interface OidcProvider {
  id: string;
  name: string;
}

/** A provider account connected to the signed-in account. */
export interface Identity {
  id: string;
  provider: string;
  providerName: string;
  email: string | null;
  linkedAt: string;
  lastUsedAt: string | null;
}

/** One of the user's own security events (`GET /auth/activity`). */
export interface ActivityEvent {
  /**
   * What happened, as the server names it: `login_succeeded`, `login_failed`, `password_changed`,
   * `session_revoked`, `logout_all`, `mfa_enabled`… (new kinds may come: show a fallback).
   */
  type: string;
  /** When (ISO 8601). */
  at: string;
  /** The client's address, when known. */
  ip: string | null;
  /** The device's name, for events of a named session (sign-ins). Chosen by whoever signed in: show it as text. */
  deviceName: string | null;
  /** Whether the event is of this very session (this browser's sign-in, a change made from it). */
  current: boolean;
  /** Why, when the event says: `logout`, `device_revoked`, `bad_credentials`, `wrong_code`… */
  reason: string | null;
}

/** A page of activity, newest first. */
export interface ActivityPage {
  events: ActivityEvent[];
  /** Give it to `activity(cursor)` for the next (older) page; null on the last. */
  nextCursor: string | null;
}

interface ErrorBody {
  message?: string | string[];
}

/**
 * 401s a refresh may cure: the access token expired, or its cookie did (the browser drops it at
 * its Max-Age, the token's own expiry) before the client refreshed, e.g. after the tab slept.
 */
const REFRESHABLE = new Set(['Token has expired', 'Missing bearer token']);

/** Longest wait for a refresh before it is given up (the lock is then free for the next tab). */
const REFRESH_TIMEOUT_MS = 15_000;

/** The 401 messages that mean the session is over (any other 401 is about a password). */
const SESSION_ENDED = new Set(['Token has been revoked', 'Token has expired', 'Invalid token', 'Missing bearer token']);

// WebAuthn speaks ArrayBuffers; the API speaks JSON with base64url (the WebAuthn Level 3 JSON
// forms that @simplewebauthn/server reads and writes). Converted here, with no dependency.

function fromBase64Url(text: string): ArrayBuffer {
  const base64 = text
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(text.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes.buffer;
}

function toBase64Url(buffer: ArrayBuffer | ArrayBufferView): string {
  const bytes =
    buffer instanceof ArrayBuffer
      ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

interface CredentialDescriptorJSON {
  id: string;
  type: PublicKeyCredentialType;
  transports?: AuthenticatorTransport[];
}

type CreationOptionsJSON = Omit<PublicKeyCredentialCreationOptions, 'challenge' | 'user' | 'excludeCredentials'> & {
  challenge: string;
  user: Omit<PublicKeyCredentialUserEntity, 'id'> & { id: string };
  excludeCredentials?: CredentialDescriptorJSON[];
};

type RequestOptionsJSON = Omit<PublicKeyCredentialRequestOptions, 'challenge' | 'allowCredentials'> & {
  challenge: string;
  allowCredentials?: CredentialDescriptorJSON[];
};

function descriptors(list: CredentialDescriptorJSON[] | undefined): PublicKeyCredentialDescriptor[] | undefined {
  return list?.map((descriptor) => ({ ...descriptor, id: fromBase64Url(descriptor.id) }));
}

function creationOptions(json: CreationOptionsJSON): PublicKeyCredentialCreationOptions {
  return {
    ...json,
    challenge: fromBase64Url(json.challenge),
    user: { ...json.user, id: fromBase64Url(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

function requestOptions(json: RequestOptionsJSON): PublicKeyCredentialRequestOptions {
  return { ...json, challenge: fromBase64Url(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

/** The common part of both answers' JSON. */
function credentialJSON(credential: PublicKeyCredential, response: Record<string, unknown>): Record<string, unknown> {
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults(),
    response,
  };
}

/** RegistrationResponseJSON. */
function registrationJSON(credential: PublicKeyCredential): Record<string, unknown> {
  const response = credential.response as AuthenticatorAttestationResponse;
  return credentialJSON(credential, {
    clientDataJSON: toBase64Url(response.clientDataJSON),
    attestationObject: toBase64Url(response.attestationObject),
    transports: typeof response.getTransports === 'function' ? response.getTransports() : undefined,
  });
}

/** AuthenticationResponseJSON. */
function authenticationJSON(credential: PublicKeyCredential): Record<string, unknown> {
  const response = credential.response as AuthenticatorAssertionResponse;
  return credentialJSON(credential, {
    clientDataJSON: toBase64Url(response.clientDataJSON),
    authenticatorData: toBase64Url(response.authenticatorData),
    signature: toBase64Url(response.signature),
    userHandle: response.userHandle ? toBase64Url(response.userHandle) : undefined,
  });
}

function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && window.isSecureContext && typeof window.PublicKeyCredential === 'function';
}

async function passkeyAutofillAvailable(): Promise<boolean> {
  if (!passkeysSupported()) return false;
  const check = (PublicKeyCredential as unknown as { isConditionalMediationAvailable?: () => Promise<boolean> })
    .isConditionalMediationAvailable;
  return typeof check === 'function' ? check.call(PublicKeyCredential).catch(() => false) : false;
}

export function createAuthClient(options: AuthClientOptions = {}): AuthClient {
  const baseUrl = (options.baseUrl ?? '').replace(/\/$/, '');
  const authPath = `/${(options.authPath ?? '/auth').replace(/^\/|\/$/g, '')}`;
  const margin = (options.refreshMarginSeconds ?? 30) * 1000;
  const namespace = options.namespace ?? 'nest-jwt-revocation';
  const expiryKey = `${namespace}:access-expires-at`;
  const lifetimeKey = `${namespace}:access-lifetime`;
  const listeners = new Set<(reason: SignedOutReason) => void>();
  const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(namespace) : null;
  let refreshing: Promise<void> | null = null;
  const locked = typeof navigator !== 'undefined' && navigator.locks !== undefined;

  channel?.addEventListener('message', (event: MessageEvent<{ type?: string; reason?: SignedOutReason }>) => {
    if (event.data?.type === 'signed-out') notify(event.data.reason ?? 'signed-out', false);
  });

  function notify(reason: SignedOutReason, broadcast: boolean): void {
    localStorage.removeItem(expiryKey);
    localStorage.removeItem(lifetimeKey);
    if (broadcast) channel?.postMessage({ type: 'signed-out', reason });
    for (const listener of listeners) listener(reason);
  }

  function rememberExpiry(expiresIn: number): void {
    localStorage.setItem(expiryKey, String(Date.now() + expiresIn * 1000));
    localStorage.setItem(lifetimeKey, String(expiresIn * 1000));
  }

  /** How long before expiry to refresh: the margin, but never more than half the token's life. */
  function refreshMargin(): number {
    const lifetime = Number(localStorage.getItem(lifetimeKey));
    return Number.isFinite(lifetime) && lifetime > 0 ? Math.min(margin, lifetime / 2) : margin;
  }

  function expiresAt(): number | null {
    const stored = Number(localStorage.getItem(expiryKey));
    return Number.isFinite(stored) && stored > 0 ? stored : null;
  }

  /** Every request: cookies, the transport header that is also the CSRF proof, JSON. */
  function send(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('X-Auth-Transport', 'cookie');
    // JSON for the module's own string bodies; FormData, Blob and others keep the type fetch gives them.
    if (typeof init.body === 'string' && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
    return fetch(`${baseUrl}${path}`, { ...init, headers, credentials: baseUrl ? 'include' : 'same-origin' });
  }

  async function failure(response: Response): Promise<AuthApiError> {
    let message = response.statusText;
    try {
      const body = (await response.json()) as ErrorBody;
      if (body.message) message = Array.isArray(body.message) ? body.message.join('; ') : body.message;
    } catch {
      // Not JSON: keep the status text.
    }
    const retryAfter = Number(response.headers.get('Retry-After'));
    return new AuthApiError(
      response.status,
      message,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
    );
  }

  /**
   * One refresh at a time in the whole browser: under a Web Lock, a tab first looks whether
   * another tab has refreshed meanwhile (the expiry they share in localStorage moved), and only
   * then presents the refresh cookie. Two tabs never present the same refresh token twice.
   */
  function refresh(force: boolean): Promise<void> {
    refreshing ??= (async () => {
      const seen = expiresAt();
      const run = async () => {
        const now = expiresAt();
        if (!force && now !== null && now !== seen && now - Date.now() > refreshMargin()) return; // another tab did it
        if (force && now !== null && now !== seen) return;
        // A hung refresh must not hold the lock, and every tab waiting on it, for ever.
        const response = await send(`${authPath}/refresh`, {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(REFRESH_TIMEOUT_MS),
        });
        if (!response.ok) {
          const error = await failure(response);
          if (response.status === 401 && !(await refreshedElsewhere(seen))) notify('session-ended', true);
          throw error;
        }
        rememberExpiry(((await response.json()) as SignedIn).expiresIn);
      };
      if (locked) await navigator.locks.request(`${namespace}:refresh`, run);
      else await run();
    })().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  /**
   * Without Web Locks (an insecure context, an old browser) two tabs may refresh at once, and the
   * later one is refused within the reuse grace: if another tab's refresh has landed meanwhile,
   * the session is alive and this tab simply uses the new cookies.
   */
  async function refreshedElsewhere(seen: number | null): Promise<boolean> {
    if (locked) return false;
    await new Promise((done) => setTimeout(done, 300));
    const now = expiresAt();
    return now !== null && now !== seen;
  }

  /**
   * A request that needs the session: refreshed before if due, retried once after a refresh on
   * expiry. Only a browser that has signed in refreshes or hears of a session's end: for anyone
   * else a 401 is just the answer.
   */
  async function authed(path: string, init: RequestInit = {}): Promise<Response> {
    const due = expiresAt();
    if (due !== null && due - Date.now() < refreshMargin()) await refresh(false);
    let response = await send(path, init);
    if (expiresAt() !== null && response.status === 401 && REFRESHABLE.has((await failure(response.clone())).message)) {
      await refresh(true);
      response = await send(path, init);
    }
    if (expiresAt() !== null && (await endsSession(response))) notify('session-ended', true);
    return response;
  }

  async function endsSession(response: Response): Promise<boolean> {
    return response.status === 401 && SESSION_ENDED.has((await failure(response.clone())).message);
  }

  async function expectOk(response: Response): Promise<Response> {
    if (!response.ok) throw await failure(response);
    return response;
  }

  async function signIn(email: string, password: string, deviceName?: string): Promise<SignedIn | MfaChallenge> {
    const body = JSON.stringify(deviceName ? { email, password, deviceName } : { email, password });
    const response = await expectOk(await send(`${authPath}/login`, { method: 'POST', body }));
    const answer = (await response.json()) as SignedIn | MfaChallenge;
    // The second step is still to come: no session, no cookie, no expiry to keep.
    if ('mfaRequired' in answer) return answer;
    rememberExpiry(answer.expiresIn);
    return answer;
  }

  /**
   * The browser allows one WebAuthn request at a time: a new ceremony aborts the one pending (a
   * conditional request waiting on autofill, most often).
   */
  let ceremony: AbortController | null = null;

  function startCeremony(signal?: AbortSignal): AbortSignal {
    // A request its caller has given up already must not abort the one that replaced it.
    signal?.throwIfAborted();
    ceremony?.abort(new DOMException('Another passkey request started', 'AbortError'));
    const controller = new AbortController();
    ceremony = controller;
    if (signal?.aborted) controller.abort(signal.reason);
    else signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
    return controller.signal;
  }

  /** navigator.credentials.get() with the server's options; answers AuthenticationResponseJSON. */
  async function assertion(
    optionsResponse: Response,
    mediation?: CredentialMediationRequirement,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const json = (await (await expectOk(optionsResponse)).json()) as RequestOptionsJSON;
    const credential = (await navigator.credentials.get({
      publicKey: requestOptions(json),
      mediation,
      signal: startCeremony(signal),
    })) as PublicKeyCredential | null;
    if (!credential) throw new DOMException('No passkey was chosen', 'NotAllowedError');
    return authenticationJSON(credential);
  }

  async function completeSignIn(mfaToken: string, proof: SecondFactorProof): Promise<SignedIn> {
    const body =
      'passkey' in proof
        ? JSON.stringify({
            mfaToken,
            passkey: await assertion(
              await send(`${authPath}/login/mfa/passkey-options`, {
                method: 'POST',
                body: JSON.stringify({ mfaToken }),
              }),
            ),
          })
        : JSON.stringify({ mfaToken, ...proof });
    const response = await expectOk(await send(`${authPath}/login/mfa`, { method: 'POST', body }));
    const signedIn = (await response.json()) as SignedIn;
    rememberExpiry(signedIn.expiresIn);
    return signedIn;
  }

  /** Sign-out routes: the session is over here (and in the other tabs) once the server agrees. */
  async function endSession(path: string, method: string, body?: unknown): Promise<void> {
    const init: RequestInit = { method, body: body === undefined ? undefined : JSON.stringify(body) };
    const response = await authed(path, init);
    if (await endsSession(response)) return; // already over (listeners have heard)
    await expectOk(response);
    notify('signed-out', true);
  }

  return {
    signIn,
    completeSignIn,
    async signUp(email, password, deviceName) {
      await expectOk(await send(`${authPath}/register`, { method: 'POST', body: JSON.stringify({ email, password }) }));
      const answer = await signIn(email, password, deviceName);
      // Only someone already signed in to the new account could have turned a second factor on.
      if ('mfaRequired' in answer) throw new AuthApiError(409, 'This account has a second factor: sign in', null);
      return answer;
    },
    signOut: () => endSession(`${authPath}/logout`, 'POST'),
    signOutEverywhere: () => endSession(`${authPath}/logout-all`, 'POST'),
    async signOutOthers() {
      await expectOk(await authed(`${authPath}/sessions`, { method: 'DELETE' }));
    },
    async me() {
      return (await (await expectOk(await authed(`${authPath}/me`))).json()) as PublicUser;
    },
    async devices() {
      return (await (await expectOk(await authed(`${authPath}/sessions`))).json()) as Device[];
    },
    async revokeDevice(sessionId) {
      await expectOk(await authed(`${authPath}/sessions/${encodeURIComponent(sessionId)}`, { method: 'DELETE' }));
    },
    async changePassword(currentPassword, newPassword) {
      const body = JSON.stringify({ currentPassword, newPassword });
      await expectOk(await authed(`${authPath}/password`, { method: 'POST', body }));
    },
    deleteAccount: (password) => endSession(`${authPath}/account`, 'DELETE', { password }),
    async requestPasswordReset(email) {
      const response = await expectOk(
        await send(`${authPath}/password/forgot`, { method: 'POST', body: JSON.stringify({ email }) }),
      );
      return ((await response.json()) as { message: string }).message;
    },
    async resetPassword(token, newPassword) {
      const body = JSON.stringify({ token, newPassword });
      await expectOk(await send(`${authPath}/password/reset`, { method: 'POST', body }));
      // Every session of the account ended with it; this browser's, if it had one, with the rest.
      if (expiresAt() !== null) notify('session-ended', true);
    },
    async verifyEmail(token) {
      await expectOk(await send(`${authPath}/email/verify`, { method: 'POST', body: JSON.stringify({ token }) }));
    },
    async secureAccount(token) {
      await expectOk(await send(`${authPath}/account/secure`, { method: 'POST', body: JSON.stringify({ token }) }));
      // Every session of the account ended with it; this browser's, if it had one, with the rest.
      if (expiresAt() !== null) notify('session-ended', true);
    },
    async resendVerification(email) {
      const response = await expectOk(
        await send(`${authPath}/email/verify/resend`, { method: 'POST', body: JSON.stringify({ email }) }),
      );
      return ((await response.json()) as { message: string }).message;
    },
    async mfaStatus() {
      return (await (await expectOk(await authed(`${authPath}/mfa`))).json()) as MfaStatus;
    },
    async setupTotp() {
      const response = await expectOk(await authed(`${authPath}/mfa/totp/setup`, { method: 'POST' }));
      return (await response.json()) as TotpSetup;
    },
    async totpQrCode(otpauthUrl) {
      const body = JSON.stringify({ otpauthUrl });
      return (await expectOk(await authed(`${authPath}/mfa/totp/qr`, { method: 'POST', body }))).text();
    },
    async enableTotp(code) {
      const body = JSON.stringify({ code });
      const response = await expectOk(await authed(`${authPath}/mfa/totp/enable`, { method: 'POST', body }));
      return ((await response.json()) as { recoveryCodes: string[] }).recoveryCodes;
    },
    async disableTotp() {
      await expectOk(await authed(`${authPath}/mfa/totp`, { method: 'DELETE' }));
    },
    async regenerateRecoveryCodes() {
      const response = await expectOk(await authed(`${authPath}/mfa/recovery-codes`, { method: 'POST' }));
      return ((await response.json()) as { recoveryCodes: string[] }).recoveryCodes;
    },
    async reauthenticate(proof) {
      const body = JSON.stringify(
        'passkey' in proof
          ? {
              passkey: await assertion(await authed(`${authPath}/reauthenticate/passkey-options`, { method: 'POST' })),
            }
          : proof,
      );
      const response = await expectOk(await authed(`${authPath}/reauthenticate`, { method: 'POST', body }));
      // A new access cookie, with a lifetime of its own: refresh before it ends, as after a sign-in.
      rememberExpiry(((await response.json()) as SignedIn).expiresIn);
    },
    passkeysSupported,
    passkeyAutofillAvailable,
    async signInWithPasskey({ email, autofill = false, signal } = {}) {
      const optionsBody = JSON.stringify(email ? { email } : {});
      const passkey = await assertion(
        await send(`${authPath}/passkeys/login/options`, { method: 'POST', body: optionsBody }),
        autofill ? 'conditional' : undefined,
        signal,
      );
      const body = JSON.stringify({ response: passkey });
      const response = await expectOk(await send(`${authPath}/passkeys/login`, { method: 'POST', body }));
      const answer = (await response.json()) as SignedIn | MfaChallenge;
      if ('mfaRequired' in answer) return answer;
      rememberExpiry(answer.expiresIn);
      return answer;
    },
    async addPasskey(name) {
      const optionsResponse = await expectOk(await authed(`${authPath}/passkeys/register/options`, { method: 'POST' }));
      const json = (await optionsResponse.json()) as CreationOptionsJSON;
      const credential = (await navigator.credentials.create({
        publicKey: creationOptions(json),
        signal: startCeremony(),
      })) as PublicKeyCredential | null;
      if (!credential) throw new DOMException('No passkey was created', 'NotAllowedError');
      const body = JSON.stringify(
        name ? { response: registrationJSON(credential), name } : { response: registrationJSON(credential) },
      );
      const response = await expectOk(await authed(`${authPath}/passkeys/register`, { method: 'POST', body }));
      return { lastUsedAt: null, ...((await response.json()) as Omit<Passkey, 'lastUsedAt'>) };
    },
    async listPasskeys() {
      return (await (await expectOk(await authed(`${authPath}/passkeys`))).json()) as Passkey[];
    },
    async renamePasskey(id, name) {
      const body = JSON.stringify({ name });
      const path = `${authPath}/passkeys/${encodeURIComponent(id)}`;
      return (await (await expectOk(await authed(path, { method: 'PATCH', body }))).json()) as Passkey;
    },
    async removePasskey(id) {
      await expectOk(await authed(`${authPath}/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE' }));
    },
    async oidcProviders() {
      const response = await send(`${authPath}/oidc/providers`);
      if (response.status === 404) return [];
      return (await (await expectOk(response)).json()) as OidcProvider[];
    },
    signInWith(providerId, returnTo = '/') {
      const query = new URLSearchParams({ returnTo });
      window.location.assign(`${baseUrl}${authPath}/oidc/${encodeURIComponent(providerId)}/start?${query}`);
    },
    async completeOidcSignIn(code) {
      const body = JSON.stringify({ code });
      const response = await expectOk(await send(`${authPath}/oidc/exchange`, { method: 'POST', body }));
      const answer = (await response.json()) as SignedIn | MfaChallenge;
      if ('mfaRequired' in answer) return answer;
      rememberExpiry(answer.expiresIn);
      return answer;
    },
    async connectProvider(providerId, returnTo = '/') {
      const query = new URLSearchParams({ returnTo });
      const path = `${authPath}/oidc/${encodeURIComponent(providerId)}/link?${query}`;
      const response = await expectOk(await authed(path, { headers: { Accept: 'application/json' } }));
      window.location.assign(((await response.json()) as { location: string }).location);
    },
    async listIdentities() {
      return (await (await expectOk(await authed(`${authPath}/identities`))).json()) as Identity[];
    },
    async unlinkIdentity(id) {
      await expectOk(await authed(`${authPath}/identities/${encodeURIComponent(id)}`, { method: 'DELETE' }));
    },
    async activity(cursor) {
      const query = cursor === undefined ? '' : `?${new URLSearchParams({ cursor })}`;
      return (await (await expectOk(await authed(`${authPath}/activity${query}`))).json()) as ActivityPage;
    },
    fetch: (input, init) => authed(input, init),
    isSignedIn: () => expiresAt() !== null,
    async resumeSession() {
      const response = await send(`${authPath}/refresh`, { method: 'POST' });
      if (!response.ok) return false;
      rememberExpiry(((await response.json()) as SignedIn).expiresIn);
      return true;
    },
    onSignedOut(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
