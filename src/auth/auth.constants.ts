/** Injection token of the clock used for every expiry decision (tests swap it). */
export const AUTH_CLOCK = Symbol('AUTH_CLOCK');
/** Injection token of the password hasher. */
export const PASSWORD_HASHER = Symbol('PASSWORD_HASHER');

/** Name of the passport strategy registered by this module. */
export const AUTH_JWT_STRATEGY = 'auth-jwt';

export const IS_PUBLIC_KEY = 'auth:isPublic';
export const STRICT_REVOCATION_KEY = 'auth:strictRevocation';
export const REQUIRE_VERIFIED_EMAIL_KEY = 'auth:requireVerifiedEmail';
/** Metadata of @RequireRecentAuth(): the most seconds since auth_time, or null for the module's recentAuthMaxAge. */
export const REQUIRE_RECENT_AUTH_KEY = 'auth:requireRecentAuth';
export const REQUIRE_SECOND_FACTOR_KEY = 'auth:requireSecondFactor';
export const ROLES_KEY = 'auth:roles';
/** Set on the request of a route marked @StrictRevocationCheck(). */
export const STRICT_REVOCATION_REQUEST = Symbol('auth:strictRevocation');

export const TOKEN_TYPE_ACCESS = 'access';
export const TOKEN_TYPE_REFRESH = 'refresh';
export type TokenType = typeof TOKEN_TYPE_ACCESS | typeof TOKEN_TYPE_REFRESH;

/** The messages of 401 answers; clients may rely on them. */
export const AuthErrors = {
  revoked: 'Token has been revoked',
  expired: 'Token has expired',
  invalid: 'Invalid token',
  missing: 'Missing bearer token',
  missingRefreshCookie: 'Missing refresh token cookie',
  badCredentials: 'Invalid email or password',
  wrongCurrentPassword: 'Current password is incorrect',
  unavailable: 'Authentication is temporarily unavailable; retry shortly',
  invalidAccountToken: 'Invalid or expired link',
  emailNotVerified: 'Email address not verified',
  invalidCode: 'Invalid code',
  invalidMfaToken: 'Invalid or expired mfaToken: sign in again',
  recentAuthRequired: 'Recent authentication required',
  secondFactorRequired: 'Second factor required',
  insufficientRole: 'Insufficient role',
} as const;

/** Seconds a client is told to wait (Retry-After) when the database cannot be reached. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
/**
 * Longest bearer token the guard reads (characters). Longer Authorization headers are refused
 * without further parsing; the module's own tokens are a few hundred characters.
 */
export const MAX_BEARER_TOKEN_LENGTH = 4096;

/** `Cache-Control: max-age` of the JWKS document, in seconds. */
export const JWKS_MAX_AGE_SECONDS = 300;

/** Key of the PostgreSQL advisory lock that lets one instance purge at a time. */
export const PURGE_ADVISORY_LOCK_KEY = 7_302_114_901;
/** Most rows a single purge statement deletes. */
export const PURGE_BATCH_LIMIT = 10_000;

export const DEFAULTS = {
  algorithm: 'HS256',
  /** Seconds a rotated-in key is published before it signs (twice the JWKS cache lifetime). */
  keyActivationDelay: 600,
  accessTokenTtl: 900,
  refreshTokenTtl: 1_209_600,
  sessionMaxAge: 2_592_000,
  refreshReuseGrace: 10,
  purgeCron: '*/10 * * * *',
  purgeBatchPauseMs: 25,
  sessionRetention: 604_800,
  /** Seconds an event is kept in the event store (90 days). */
  eventRetention: 7_776_000,
  /** Seconds a token's iat may lie in the future (instances' clocks are never exactly in step). */
  clockTolerance: 5,
  routePrefix: 'auth',
  loginMaxFailedAttempts: 5,
  loginLockoutWindow: 900,
  /** The per-IP limit (over all accounts) is this many times the per-account limit. */
  loginIpAttemptsFactor: 10,
  /** Failed logins of one account over all client IPs, within the window, before 429. */
  loginMaxFailedAttemptsPerAccount: 100,
  registerMaxPerIp: 20,
  registerWindow: 3600,
  registerMaxPerNetwork: 100,
  passwordChecksMaxPerIp: 100,
  passwordChecksWindow: 60,
  passwordChecksMaxPerNetwork: 1000,
  maxSessionsPerUser: 100,
  revocationHeartbeatMs: 500,
  passwordResetTtl: 1800,
  emailVerificationTtl: 86_400,
  mailMaxPerIp: 20,
  mailMaxPerEmail: 5,
  mailMaxPerNetwork: 100,
  mailWindow: 3600,
  accountPagesPath: '/account',
  /** Seconds a sign-in or re-authentication counts as recent (step-up). */
  recentAuthMaxAge: 600,
  totpIssuer: 'nest-jwt-revocation',
  /** Seconds the second step of a sign-in may take (the mfaToken's life). */
  mfaChallengeTtl: 300,
  /** Wrong codes one mfaToken takes before it dies. */
  mfaChallengeMaxFailures: 5,
  recoveryCodes: 10,
  /** Wrong second-factor codes of one account, over every client, per loginLockoutWindow. */
  mfaMaxFailedAttempts: 10,
} as const;
