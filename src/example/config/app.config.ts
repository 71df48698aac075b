import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { validateCronExpression } from 'cron';
import type { HttpAdapterKind } from '../app.setup.js';
import type { AuthOidcProvider } from '../../auth/auth-module-options.interface.js';
import { canonicalSmtpHost, parseSmtpUrl, SmtpUrlError } from '../../auth/mail/smtp-url.js';

/** JWT_ALGORITHM values: HMAC with the shared secret, or a key pair kept in signing_keys. */
export const JWT_ALGORITHMS = ['HS256', 'EdDSA', 'ES256'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** Configuration of the example app, read from the environment once at start. */
export interface AppConfig {
  production: boolean;
  port: number;
  /** Null: start the embedded PostgreSQL under `dataDir` and run migrations. */
  databaseUrl: string | null;
  /**
   * DATABASE_LISTEN_URL: a direct connection for the revocation listener (LISTEN), when
   * DATABASE_URL goes through a transaction-mode pooler that cannot carry notifications.
   */
  databaseListenUrl: string | null;
  dataDir: string;
  embeddedDatabasePort: number;
  /** Null only with an asymmetric algorithm in production (the secret then only verifies old HMAC tokens). */
  jwtSecret: string | null;
  /** JWT_ALGORITHM: the algorithm of the keys the module creates. Default HS256. */
  jwtAlgorithm: JwtAlgorithm;
  /** KEY_ENCRYPTION_SECRET: encrypts private keys in signing_keys. */
  keyEncryptionSecret: string;
  /** NOTIFICATION_SECRET: authenticates the notification channel (default: derived from the secrets above). */
  notificationSecret?: string | null;
  accessTokenTtl: number;
  refreshTokenTtl: number;
  sessionMaxAge: number;
  refreshReuseGrace: number;
  purgeCron: string;
  loginMaxFailedAttempts: number;
  loginMaxFailedAttemptsPerIp: number;
  loginMaxFailedAttemptsPerAccount: number;
  loginLockoutWindow: number;
  registerMaxPerIp: number;
  registerWindow: number;
  passwordChecksMaxPerIp: number;
  passwordChecksWindow: number;
  passwordChecksMaxPerNetwork: number;
  maxSessionsPerUser: number;
  /** AUTH_TRUSTED_ORIGINS: origins besides the app's own allowed to send cookie-authenticated requests. */
  trustedOrigins: string[];
  /**
   * Express `trust proxy` setting: which proxies' X-Forwarded-For to believe for the client IP: a
   * hop count or a list of addresses/subnets, or false. Never `true` (the client would choose).
   */
  trustProxy: false | number | string;
  /** HTTP_ADAPTER: `express` (default) or `fastify`. */
  httpAdapter: HttpAdapterKind;
  /** SMTP_URL: the mail server (`smtp://user:pass@host:587`); null: mails are written as files into `mailDir`. */
  smtpUrl: string | null;
  /**
   * SMTP_ALLOW_PLAINTEXT_TO: relays (comma-separated host names or addresses) SMTP_URL may reach
   * without TLS (`requireTLS=false`, `ignoreTLS=true`, `tls.rejectUnauthorized=false`, or plain
   * `smtp://` without STARTTLS). Default none: only localhost.
   */
  smtpAllowPlaintextTo: string[];
  /** Where mails go without SMTP_URL: `<dataDir>/mail`. */
  mailDir: string;
  /** MAIL_FROM. */
  mailFrom: string;
  /** PUBLIC_URL: links in mails start with it. Default `http://localhost:<PORT>`. */
  publicUrl: string;
  /**
   * The origin passkeys are bound to: PUBLIC_URL's, where browsers allow WebAuthn (https on a
   * domain name, or http://localhost); null elsewhere (an IP address, plain http): passkeys off.
   */
  passkeyOrigin: string | null;
  /** PASSWORD_RESET_TTL, seconds. */
  passwordResetTtl: number;
  /** EMAIL_VERIFICATION_TTL, seconds. */
  emailVerificationTtl: number;
  /** REQUIRE_VERIFIED_EMAIL: login of an unverified account answers 403. */
  requireVerifiedEmail: boolean;
  /** RECENT_AUTH_MAX_AGE, seconds: how recent a sign-in or re-authentication must be for a change of the second factor. */
  recentAuthMaxAge?: number;
  /**
   * OIDC_PROVIDERS: a JSON list of `{id, name, issuer, clientId, clientSecret, scopes?,
   * trustEmailVerified?}`, the OpenID Connect providers to sign in with. Default none.
   */
  oidcProviders?: AuthOidcProvider[];
  /** AUTH_EVENT_RETENTION_DAYS: days a security event is kept in the event store. Default 90. */
  eventRetentionDays?: number;
  /** NEW_DEVICE_ALERTS: mail users about sign-ins from new devices. Default true. */
  newDeviceAlerts?: boolean;
  /** AUTH_EVENT_STORE: write security events to the event store (default true). */
  eventStore?: boolean;
}

export const MIN_JWT_SECRET_BYTES = 32;
const DEFAULT_PURGE_CRON = '*/10 * * * *';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return value;
}

/**
 * Reads and validates the environment; lists every problem at once. Outside production a missing
 * JWT_SECRET is generated and kept under the data directory; in production it is required.
 */
export function loadAppConfig(env: Env = process.env, dataDir = join(process.cwd(), '.data')): AppConfig {
  const problems: string[] = [];
  const production = env.NODE_ENV === 'production';
  const port = integer(env, 'PORT', 3000, 0, 65_535, problems);
  const embeddedDatabasePort = integer(env, 'EMBEDDED_DATABASE_PORT', 54_329, 1, 65_535, problems);
  const accessTokenTtl = integer(env, 'ACCESS_TOKEN_TTL', 900, 1, 86_400, problems);
  const refreshTokenTtl = integer(env, 'REFRESH_TOKEN_TTL', 1_209_600, 1, 31_536_000, problems);
  const sessionMaxAge = integer(env, 'SESSION_MAX_AGE', 2_592_000, 1, 31_536_000, problems);
  const refreshReuseGrace = integer(env, 'REFRESH_REUSE_GRACE', 10, 0, 3_600, problems);
  const loginMaxFailedAttempts = integer(env, 'LOGIN_MAX_FAILED_ATTEMPTS', 5, 1, 1_000, problems);
  const loginMaxFailedAttemptsPerIp = integer(
    env,
    'LOGIN_MAX_FAILED_ATTEMPTS_PER_IP',
    loginMaxFailedAttempts * 10,
    1,
    1_000_000,
    problems,
  );
  const loginMaxFailedAttemptsPerAccount = integer(
    env,
    'LOGIN_MAX_FAILED_ATTEMPTS_PER_ACCOUNT',
    100,
    1,
    1_000_000,
    problems,
  );
  const loginLockoutWindow = integer(env, 'LOGIN_LOCKOUT_WINDOW', 900, 1, 86_400, problems);
  const registerMaxPerIp = integer(env, 'REGISTER_MAX_PER_IP', 20, 1, 1_000_000, problems);
  const registerWindow = integer(env, 'REGISTER_WINDOW', 3600, 1, 31_536_000, problems);
  const passwordChecksMaxPerIp = integer(env, 'PASSWORD_CHECKS_MAX_PER_IP', 100, 1, 1_000_000, problems);
  const passwordChecksWindow = integer(env, 'PASSWORD_CHECKS_WINDOW', 60, 1, 86_400, problems);
  const passwordChecksMaxPerNetwork = integer(env, 'PASSWORD_CHECKS_MAX_PER_NETWORK', 1000, 1, 1_000_000, problems);
  const maxSessionsPerUser = integer(env, 'MAX_SESSIONS_PER_USER', 100, 1, 1_000_000, problems);
  const trustProxy = parseTrustProxy(env.TRUST_PROXY, problems);
  // Checked by the module at start (each must be an http(s) origin); here only split.
  const trustedOrigins = (env.AUTH_TRUSTED_ORIGINS ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  const httpAdapter = (env.HTTP_ADAPTER?.trim() || 'express') as HttpAdapterKind;
  if (httpAdapter !== 'express' && httpAdapter !== 'fastify') {
    problems.push(`HTTP_ADAPTER must be express or fastify (got "${env.HTTP_ADAPTER}")`);
  }
  const passwordResetTtl = integer(env, 'PASSWORD_RESET_TTL', 1800, 60, 86_400, problems);
  const emailVerificationTtl = integer(env, 'EMAIL_VERIFICATION_TTL', 86_400, 60, 2_592_000, problems);
  const requireVerifiedEmail = flag(env, 'REQUIRE_VERIFIED_EMAIL', problems);
  const recentAuthMaxAge = integer(env, 'RECENT_AUTH_MAX_AGE', 600, 1, 86_400, problems);
  const eventRetentionDays = integer(env, 'AUTH_EVENT_RETENTION_DAYS', 90, 1, 3650, problems);
  const newDeviceAlerts = env.NEW_DEVICE_ALERTS?.trim() ? flag(env, 'NEW_DEVICE_ALERTS', problems) : true;
  const eventStore = env.AUTH_EVENT_STORE?.trim() ? flag(env, 'AUTH_EVENT_STORE', problems) : true;
  const smtpUrl = env.SMTP_URL?.trim() || null;
  const smtpAllowPlaintextTo = (env.SMTP_ALLOW_PLAINTEXT_TO ?? '')
    .split(',')
    .map((relay) => relay.trim())
    .filter((relay) => relay !== '');
  const smtpProblem = (name: string, check: () => unknown) => {
    try {
      check();
    } catch (error) {
      if (!(error instanceof SmtpUrlError)) throw error;
      // The message names the host or the option, never the URL or its password.
      const message = error.message.replace('allowPlaintextTo', 'SMTP_ALLOW_PLAINTEXT_TO');
      problems.push(message.startsWith('SMTP URL ') ? message.replace('SMTP URL', name) : `${name}: ${message}`);
    }
  };
  const relayProblems = problems.length;
  for (const relay of smtpAllowPlaintextTo) smtpProblem('SMTP_ALLOW_PLAINTEXT_TO', () => canonicalSmtpHost(relay));
  // Refused here, with the other problems, as SmtpMailTransport would refuse it at start.
  if (smtpUrl && problems.length === relayProblems)
    smtpProblem('SMTP_URL', () => parseSmtpUrl(smtpUrl, { allowPlaintextTo: smtpAllowPlaintextTo }));
  if (!smtpUrl && production) {
    // Recovery and verification are on in this app: a production mail must reach a mailbox, not a file.
    problems.push('SMTP_URL is required when NODE_ENV=production (password reset and email verification send mail)');
  }
  const mailFrom = env.MAIL_FROM?.trim() || 'nest-jwt-revocation example <no-reply@localhost>';
  const publicUrl = (env.PUBLIC_URL?.trim() || `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    const url = new URL(publicUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol');
    // A production link must reach the user's browser, over TLS.
    if (production && url.protocol !== 'https:') {
      problems.push('PUBLIC_URL must be an https URL when NODE_ENV=production (links in mails start with it)');
    }
  } catch {
    problems.push(`PUBLIC_URL must be an http(s) URL such as https://app.example.com (got "${env.PUBLIC_URL}")`);
  }
  const passkeyOrigin = passkeyOriginOf(publicUrl);
  let oidcProviders: AuthOidcProvider[] = [];
  if (env.OIDC_PROVIDERS?.trim()) {
    try {
      const parsed: unknown = JSON.parse(env.OIDC_PROVIDERS);
      if (!Array.isArray(parsed)) throw new Error('not a list');
      oidcProviders = parsed as AuthOidcProvider[];
    } catch {
      // The value holds client secrets: never echoed.
      problems.push('OIDC_PROVIDERS must be a JSON list of {id, name, issuer, clientId, clientSecret} objects');
    }
  }
  const purgeCron = env.PURGE_CRON?.trim() || DEFAULT_PURGE_CRON;
  const cronCheck = validateCronExpression(purgeCron);
  if (!cronCheck.valid) problems.push(`PURGE_CRON is not a valid cron expression (got "${purgeCron}")`);

  const databaseUrl = postgresUrl(env, 'DATABASE_URL', problems);
  const databaseListenUrl = postgresUrl(env, 'DATABASE_LISTEN_URL', problems);
  if (databaseListenUrl && !databaseUrl) problems.push('DATABASE_LISTEN_URL needs DATABASE_URL');

  const jwtAlgorithm = (env.JWT_ALGORITHM?.trim() || 'HS256') as JwtAlgorithm;
  if (!JWT_ALGORITHMS.includes(jwtAlgorithm)) {
    problems.push(`JWT_ALGORITHM must be one of ${JWT_ALGORITHMS.join(', ')} (got "${env.JWT_ALGORITHM}")`);
  }
  const hmac = jwtAlgorithm.startsWith('HS');

  let jwtSecret = env.JWT_SECRET ?? '';
  if (jwtSecret === '') {
    // With an asymmetric algorithm in production the secret is optional: it only verifies the
    // HMAC tokens of a deployment that switched (until they expire).
    if (production && hmac) problems.push('JWT_SECRET is required when NODE_ENV=production (with JWT_ALGORITHM=HS256)');
    else if (!production) jwtSecret = readOrCreateDevSecret(dataDir, 'jwt-secret');
  }
  if (jwtSecret !== '' && Buffer.byteLength(jwtSecret, 'utf8') < MIN_JWT_SECRET_BYTES) {
    problems.push(`JWT_SECRET must be at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }

  let keyEncryptionSecret = env.KEY_ENCRYPTION_SECRET ?? '';
  if (keyEncryptionSecret === '') {
    if (production) problems.push('KEY_ENCRYPTION_SECRET is required when NODE_ENV=production');
    else keyEncryptionSecret = readOrCreateDevSecret(dataDir, 'key-encryption-secret');
  }
  if (keyEncryptionSecret !== '' && Buffer.byteLength(keyEncryptionSecret, 'utf8') < MIN_JWT_SECRET_BYTES) {
    problems.push(`KEY_ENCRYPTION_SECRET must be at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }

  const notificationSecret = env.NOTIFICATION_SECRET ?? '';
  if (notificationSecret !== '' && Buffer.byteLength(notificationSecret, 'utf8') < MIN_JWT_SECRET_BYTES) {
    problems.push(`NOTIFICATION_SECRET must be at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    production,
    port,
    databaseUrl,
    databaseListenUrl,
    dataDir,
    embeddedDatabasePort,
    jwtSecret: jwtSecret === '' ? null : jwtSecret,
    jwtAlgorithm,
    keyEncryptionSecret,
    notificationSecret: notificationSecret === '' ? null : notificationSecret,
    accessTokenTtl,
    refreshTokenTtl,
    sessionMaxAge,
    refreshReuseGrace,
    purgeCron,
    loginMaxFailedAttempts,
    loginMaxFailedAttemptsPerIp,
    loginMaxFailedAttemptsPerAccount,
    loginLockoutWindow,
    registerMaxPerIp,
    registerWindow,
    passwordChecksMaxPerIp,
    passwordChecksWindow,
    passwordChecksMaxPerNetwork,
    maxSessionsPerUser,
    trustedOrigins,
    trustProxy,
    httpAdapter,
    smtpUrl,
    smtpAllowPlaintextTo,
    mailDir: join(dataDir, 'mail'),
    mailFrom,
    publicUrl,
    passkeyOrigin,
    passwordResetTtl,
    emailVerificationTtl,
    requireVerifiedEmail,
    recentAuthMaxAge,
    oidcProviders,
    eventRetentionDays,
    newDeviceAlerts,
    eventStore,
  };
}

function flag(env: Env, name: string, problems: string[]): boolean {
  const raw = env[name]?.trim().toLowerCase() ?? '';
  if (raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  problems.push(`${name} must be true or false (got "${env[name]}")`);
  return false;
}

function postgresUrl(env: Env, name: string, problems: string[]): string | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  try {
    const url = new URL(raw);
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw new Error('protocol');
    return raw;
  } catch {
    problems.push(`${name} must be a postgres:// URL`);
    return null;
  }
}

/**
 * `false` (default), a hop count, or Express's list of trusted proxy addresses and subnets
 * (`loopback, 10.0.0.0/8`). `true` is refused: Express would then take the left-most
 * X-Forwarded-For entry, which the client writes itself, as the client's address, and every
 * per-client limit could be dodged by changing a header.
 */
function parseTrustProxy(raw: string | undefined, problems: string[]): false | number | string {
  const value = raw?.trim() ?? '';
  if (value === '' || value === 'false' || value === '0') return false;
  if (value === 'true') {
    problems.push(
      'TRUST_PROXY=true is refused: the client could choose its own address through X-Forwarded-For. ' +
        'Set the number of proxies in front of the app (e.g. TRUST_PROXY=1) or their addresses (e.g. TRUST_PROXY=10.0.0.0/8)',
    );
    return false;
  }
  if (/^\d+$/.test(value)) {
    // A hop count larger than the real chain of proxies lets the client choose again.
    if (Number(value) > 10) problems.push(`TRUST_PROXY hop count must be 10 or fewer (got ${value})`);
    return Number(value);
  }
  const entries = value.split(',').map((entry) => entry.trim());
  const named = new Set(['loopback', 'linklocal', 'uniquelocal']);
  const valid = (entry: string) => {
    if (named.has(entry)) return true;
    const [address, bits, ...rest] = entry.split('/');
    if (rest.length > 0 || isIP(address) === 0) return false;
    return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (isIP(address) === 4 ? 32 : 128));
  };
  if (!entries.every(valid)) {
    problems.push(
      `TRUST_PROXY must be false, a number of proxies, or a comma-separated list of addresses, subnets or loopback/linklocal/uniquelocal (got "${value}")`,
    );
    return false;
  }
  return value;
}

/** A development secret, generated once and kept (owner-only) so that tokens and keys survive restarts. */
function readOrCreateDevSecret(dataDir: string, name: string): string {
  const file = join(dataDir, name);
  if (existsSync(file)) return readDevSecret(file);
  mkdirSync(dataDir, { recursive: true });
  return publishDevSecret(file, randomBytes(48).toString('base64url'));
}

/**
 * Publishes `secret` as `file` unless another process got there first, and returns the one that
 * holds. Two apps started at once on a fresh checkout both get here: the secret is written whole to
 * a temp file of this process and then hard-linked to `file`, which either publishes a complete
 * file or fails with EEXIST; on EEXIST the winner's secret (complete, as it was linked) is used.
 */
export function publishDevSecret(file: string, secret: string): string {
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, `${secret}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(temp, 0o600);
    linkSync(temp, file);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readDevSecret(file);
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

function readDevSecret(file: string): string {
  const secret = readFileSync(file, 'utf8').trim();
  if (secret === '') throw new ConfigError([`${file} is empty: delete it and a new development secret is generated`]);
  return secret;
}

/** PUBLIC_URL's origin when browsers allow passkeys there; null otherwise. */
function passkeyOriginOf(publicUrl: string): string | null {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return null;
  }
  const ipAddress = url.hostname.startsWith('[') || /^[\d.]+$/.test(url.hostname);
  if (url.protocol === 'https:' && !ipAddress) return url.origin;
  return url.protocol === 'http:' && url.hostname === 'localhost' ? url.origin : null;
}
