import type { SigningAlgorithm } from './keys/signing-key.js';
import type { MailTransport } from './mail/mail-transport.interface.js';
import type { SecurityEventHandler } from './security-events/security-event.interface.js';

/** How the module sends its mails (password reset, email verification). */
export interface AuthMailOptions {
  /** Delivers: `new SmtpMailTransport(url)`, `new FileMailTransport(dir)`, or one of your own. */
  transport: MailTransport;
  /** The From of every mail (`Example <no-reply@example.com>`). */
  from: string;
  /** Links in mails start with this: `https://app.example.com`. */
  publicUrl: string;
  /** Where AccountPagesModule is mounted: links go to `<publicUrl><pagesPath>/reset-password?token=…`. Default `/account`. */
  pagesPath?: string;
  /** Named in the mails. Default `your account`. */
  appName?: string;
  /**
   * Mails each instance sends at once (1..32). Default 4: a slow or flooded queue does not hold
   * a password-reset mail behind hundreds of others, and the mail server sees a bounded number of
   * connections per instance.
   */
  concurrency?: number;
}

export type { HmacAlgorithm, SigningAlgorithm } from './keys/signing-key.js';

export interface AuthModuleOptions {
  /**
   * HMAC secret of at least 32 bytes: the zero-configuration key (HS256). It signs while
   * signing_keys holds no key that has taken over, and verifies its tokens until they expire.
   * Optional with an asymmetric `algorithm`, or when signing_keys holds the keys.
   */
  secret?: string | Buffer;
  /**
   * Algorithm of the keys this module creates: `HS256` (default, with `secret`), `HS384`,
   * `HS512`, `EdDSA` (Ed25519) or `ES256` (P-256). With an asymmetric one and no key yet, the
   * first start creates one. Each key pins its own algorithm; a token is checked with its key's.
   */
  algorithm?: SigningAlgorithm;
  /**
   * Secret (at least 32 bytes) that encrypts the private keys in signing_keys (AES-256-GCM).
   * Required as soon as keys live there: an asymmetric `algorithm`, or after a rotation.
   */
  keyEncryptionSecret?: string | Buffer;
  /**
   * Seconds between a key's creation by a rotation and its first signature, so that every
   * instance and every JWKS cache has it before any token needs it. Default 600 (twice the JWKS
   * cache lifetime).
   */
  keyActivationDelay?: number;
  /** Optional `iss` claim written into and required from every token. */
  issuer?: string;
  /** Optional `aud` claim written into and required from every token. */
  audience?: string;
  /** Access-token lifetime in seconds. Default 900. */
  accessTokenTtl?: number;
  /** Refresh-token idle lifetime in seconds. Default 1209600 (14 days). */
  refreshTokenTtl?: number;
  /** Absolute session lifetime from login, in seconds. Default 2592000 (30 days). */
  sessionMaxAge?: number;
  /** Seconds during which the refresh token just rotated out is answered 401 without revoking the session. Default 10. */
  refreshReuseGrace?: number;
  /** Cron expression of the purge job, or `false` to not schedule it. Default every 10 minutes. */
  purgeCron?: string | false;
  /** Seconds a session row is kept after it ended, before the purge deletes it. Default 7 days. */
  sessionRetention?: number;
  /**
   * Write every security event to the event store (`auth_events`), which users' activity, the
   * admin API and new-device alerts read. Default true. `false`: the handler (`securityEvents`)
   * still gets every event; activity and the admins' events are then empty.
   */
  eventStore?: boolean;
  /** Seconds an event is kept in the event store before the purge deletes it. Default 90 days. */
  eventRetention?: number;
  /**
   * Mail a user when they sign in from a device and network not seen for them in the last 90 days
   * ("New sign-in to your account", with a "This wasn't me" link). Needs `mail`. Default true.
   */
  newDeviceAlerts?: boolean;
  /**
   * Seconds a token's `iat` may lie in the future of this instance's clock: the instance that
   * signed it may run a little ahead. Default 5.
   */
  clockTolerance?: number;
  /** Failed logins of one account from one client IP, within the window, before 429. Default 5. */
  loginMaxFailedAttempts?: number;
  /** Failed logins from one client IP over all accounts, within the window, before 429. Default 10x the above. */
  loginMaxFailedAttemptsPerIp?: number;
  /**
   * Failed logins of one account over all client IPs, within the window, before 429: bounds
   * guessing one password from many addresses (at the price that such an attack also locks the
   * real user out until the window passes). Default 100.
   */
  loginMaxFailedAttemptsPerAccount?: number;
  /** Seconds a failed login counts for. Default 900. */
  loginLockoutWindow?: number;
  /** Registrations from one client IP (IPv6: one /64) within `registerWindow` before 429. Default 20. */
  registerMaxPerIp?: number;
  /** Seconds a registration counts for, for `registerMaxPerIp`. Default 3600. */
  registerWindow?: number;
  /**
   * Registrations from one IPv6 /48 (65,536 /64s: what one site is usually given) within
   * `registerWindow` before 429, on top of `registerMaxPerIp`. Default 100.
   */
  registerMaxPerNetwork?: number;
  /**
   * Password checks (each costs an argon2 hash: login, and the current password before a change
   * or a deletion) from one client IP (IPv6: one /64) within `passwordChecksWindow` before 429,
   * counted whether the password was right or not. Bounds the hashing one client can take from
   * everyone else. Default 100.
   */
  passwordChecksMaxPerIp?: number;
  /** Seconds a password check counts for, for `passwordChecksMaxPerIp`. Default 60. */
  passwordChecksWindow?: number;
  /** Password checks from one IPv6 /48 within `passwordChecksWindow` before 429, on top of `passwordChecksMaxPerIp`. Default 1000. */
  passwordChecksMaxPerNetwork?: number;
  /**
   * Open sessions (devices) one user may have. A login past it ends the least recently used
   * session at once, on every instance (`session_revoked`, reason `session_limit`). Default 100.
   */
  maxSessionsPerUser?: number;
  /**
   * Receives security events (failed and throttled logins, refresh-token reuse, logout-all,
   * password change, account deletion, bans). Default: one structured log line per event.
   * Events never carry a token, a hash or a password.
   */
  securityEvents?: SecurityEventHandler;
  /**
   * Connection string for the revocation listener (LISTEN) when the TypeORM connection goes
   * through a transaction-mode pooler that cannot carry notifications. Default: the TypeORM
   * connection's own settings. It must reach the same database as the pool; this is checked at start.
   */
  revocationListenerUrl?: string;
  /** Check revocation in the database on every request, on every route, instead of in memory. Default false. */
  strictRevocation?: boolean;
  /** How often (ms) the listening connection is probed; a dead one is noticed within twice this. Default 500. */
  revocationHeartbeatMs?: number;
  /**
   * Secret (at least 32 bytes) from which the key that authenticates the notification channel is
   * derived (HKDF-SHA256): a NOTIFY not signed with it is dropped unread. Default: derived from
   * `secret`, or else from `keyEncryptionSecret`. Set it, the same everywhere, when verify-only
   * services (AuthVerifierModule) share the database: they hold neither of those.
   */
  notificationSecret?: string | Buffer;
  /** Most rows one purge statement deletes (1..10000). Default 10000. */
  purgeBatchSize?: number;
  /**
   * Least pause (ms) between two full purge batches; the pause is also at least as long as the
   * batch took, so that a large purge does not crowd out requests. Default 25.
   */
  purgeBatchPauseMs?: number;
  /**
   * Mail for password reset and email verification (needs `keyEncryptionSecret`: the mails waiting
   * in the outbox are encrypted with a key derived from it). Without it, those routes answer 404
   * and registration sends nothing.
   */
  mail?: AuthMailOptions;
  /** Seconds a password-reset link is valid. Default 1800. */
  passwordResetTtl?: number;
  /** Seconds an email-verification link is valid. Default 86400. */
  emailVerificationTtl?: number;
  /** Login of an account whose address is not verified answers 403 (once the password was right). Default false. */
  requireVerifiedEmail?: boolean;
  /** Reset and verification mails asked for by one client (IPv6: one /64) per `mailWindow` before 429. Default 20. */
  mailMaxPerIp?: number;
  /** Reset and verification mails asked for one email address per `mailWindow` before 429. Default 5. */
  mailMaxPerEmail?: number;
  /** Reset and verification mails asked for by one IPv6 /48 per `mailWindow` before 429, on top of `mailMaxPerIp`. Default 100. */
  mailMaxPerNetwork?: number;
  /** Seconds a mail request counts for. Default 3600. */
  mailWindow?: number;
  /**
   * Origins (`https://app.example.com`) besides the app's own (the Host a request is sent to)
   * from which cookie-authenticated requests are accepted; see the CSRF rules. Default none.
   */
  trustedOrigins?: string[];
  /**
   * Seconds since the last sign-in or re-authentication (the token's `auth_time`) within which a
   * change of the second factor, or a route with @RequireRecentAuth(), is allowed; older: 403
   * `Recent authentication required`, and `POST /auth/reauthenticate` first. Default 600.
   */
  recentAuthMaxAge?: number;
  /**
   * Wrong second-factor codes (authenticator or recovery) one account takes within
   * `loginLockoutWindow`, over every client, before 429. They are failed logins as well. Default 10.
   */
  mfaMaxFailedAttempts?: number;
  /**
   * The name authenticator apps show beside the account (the otpauth URL's issuer). Default: the
   * mail's `appName`, else `nest-jwt-revocation`.
   */
  totpIssuer?: string;
  /**
   * Passkeys (WebAuthn): the relying party. `origins`: the web origins the pages run on
   * (`https://app.example.com`; `http://localhost:<port>` outside production); `rpId`: the domain
   * passkeys are bound to (default: the first origin's host; every origin must be on it); `rpName`:
   * shown by authenticators (default: `totpIssuer`'s default). Without it, the passkey routes
   * answer 404.
   */
  webauthn?: AuthWebAuthnOptions;
  /**
   * Sign-in with OpenID Connect providers (Google, Microsoft Entra, Keycloak, Okta…). Without it,
   * the `/auth/oidc` routes answer 404.
   */
  oidc?: AuthOidcOptions;
}

export interface AuthOidcOptions {
  providers: AuthOidcProvider[];
  /**
   * Where the app is reached (`https://app.example.com`): the redirect URIs are
   * `<publicUrl>/<routePrefix>/oidc/<id>/callback`, and `returnTo` must be on this origin.
   * Default: the mail's `publicUrl`.
   */
  publicUrl?: string;
  /** Where AccountPagesModule is mounted: failures land on `<pagesPath>/sign-in`. Default: the mail's, else `/account`. */
  pagesPath?: string;
}

export interface AuthOidcProvider {
  /** In the routes (`/auth/oidc/<id>/start`): lower-case letters, digits and hyphens, 1 to 32. */
  id: string;
  /** Shown on the pages: **Continue with {name}**. */
  name: string;
  /** The issuer (its discovery document at `<issuer>/.well-known/openid-configuration`); https, or http://localhost outside production. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Default `['openid', 'email', 'profile']`; `openid` is always asked. */
  scopes?: string[];
  /**
   * Link a first sign-in to the local account of the same address when this provider says
   * `email_verified: true` and the local address is verified too. Only for providers that own
   * the addresses they vouch for (Google for gmail.com, your company's IdP). Default false.
   */
  trustEmailVerified?: boolean;
}

export interface ResolvedOidcProvider {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string[];
  trustEmailVerified: boolean;
}

export interface ResolvedOidc {
  providers: ResolvedOidcProvider[];
  /** Origin and path, no trailing slash. */
  publicUrl: string;
  pagesPath: string;
}

export interface AuthWebAuthnOptions {
  origins: string[];
  rpId?: string;
  rpName?: string;
}

/** The relying party, checked and completed. */
export interface ResolvedWebAuthn {
  origins: string[];
  rpId: string;
  rpName: string;
}

/** Options with every default applied; what the services read. */
export type ResolvedAuthOptions = Required<
  Omit<
    AuthModuleOptions,
    | 'issuer'
    | 'audience'
    | 'secret'
    | 'keyEncryptionSecret'
    | 'notificationSecret'
    | 'securityEvents'
    | 'revocationListenerUrl'
    | 'trustedOrigins'
    | 'mail'
    | 'totpIssuer'
    | 'webauthn'
    | 'oidc'
  >
> &
  Pick<AuthModuleOptions, 'issuer' | 'audience' | 'revocationListenerUrl'> & {
    /** Normalised origins (scheme, host, port). */
    trustedOrigins: ReadonlySet<string>;
    totpIssuer: string;
    /** Null without the `webauthn` option: no passkeys. */
    webauthn: ResolvedWebAuthn | null;
    /** Null without the `oidc` option: no sign-in with other providers. */
    oidc: ResolvedOidc | null;
  };
