import { DEFAULTS, PURGE_BATCH_LIMIT } from './auth.constants.js';
import type {
  AuthModuleOptions,
  AuthOidcOptions,
  AuthWebAuthnOptions,
  ResolvedAuthOptions,
  ResolvedOidc,
  ResolvedOidcProvider,
  ResolvedWebAuthn,
} from './auth-module-options.interface.js';
import { KeyEncryption, MIN_KEY_ENCRYPTION_SECRET_BYTES } from './keys/key-encryption.js';
import type { KeySettings } from './keys/signing-keys.service.js';
import {
  type HmacAlgorithm,
  isAsymmetric,
  isSigningAlgorithm,
  keyFromSecretOption,
  MIN_HMAC_SECRET_BYTES,
  SIGNING_ALGORITHMS,
} from './keys/signing-key.js';

/** Injection token of the options with defaults applied (the secrets left out). */
export const AUTH_RESOLVED_OPTIONS = Symbol('AUTH_RESOLVED_OPTIONS');

export const MIN_SECRET_BYTES = MIN_HMAC_SECRET_BYTES;

function atLeastOne(name: string, value: number, problems: string[]): void {
  if (!Number.isInteger(value) || value < 1) problems.push(`${name} must be a whole number, 1 or more`);
}

function upToAMillion(name: string, value: number, problems: string[]): void {
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000)
    problems.push(`${name} must be a whole number from 1 to 1000000`);
}

function positiveInteger(name: string, value: number, problems: string[]): void {
  if (!Number.isInteger(value) || value <= 0) problems.push(`${name} must be a positive whole number of seconds`);
}

/**
 * What a module instance is for: `issuer` signs (the app), `verifier` only verifies
 * (AuthVerifierModule), `operator` runs the CLI's commands: it never signs, so it creates no key
 * at start and needs a secret only for the commands that read or write keys.
 */
export type AuthRole = 'issuer' | 'verifier' | 'operator';

/**
 * Applies defaults and refuses unsafe or inconsistent options, naming every problem at once. A
 * verifier (AuthVerifierModule) neither signs nor holds secrets: the key options are not asked of
 * it, nor of the operator CLI.
 */
export function resolveAuthOptions(options: AuthModuleOptions, purpose: AuthRole = 'issuer'): ResolvedAuthOptions {
  const resolved: ResolvedAuthOptions = {
    algorithm: options.algorithm ?? DEFAULTS.algorithm,
    keyActivationDelay: options.keyActivationDelay ?? DEFAULTS.keyActivationDelay,
    issuer: options.issuer,
    audience: options.audience,
    accessTokenTtl: options.accessTokenTtl ?? DEFAULTS.accessTokenTtl,
    refreshTokenTtl: options.refreshTokenTtl ?? DEFAULTS.refreshTokenTtl,
    sessionMaxAge: options.sessionMaxAge ?? DEFAULTS.sessionMaxAge,
    refreshReuseGrace: options.refreshReuseGrace ?? DEFAULTS.refreshReuseGrace,
    purgeCron: options.purgeCron ?? DEFAULTS.purgeCron,
    purgeBatchSize: options.purgeBatchSize ?? PURGE_BATCH_LIMIT,
    purgeBatchPauseMs: options.purgeBatchPauseMs ?? DEFAULTS.purgeBatchPauseMs,
    sessionRetention: options.sessionRetention ?? DEFAULTS.sessionRetention,
    eventStore: options.eventStore ?? true,
    eventRetention: options.eventRetention ?? DEFAULTS.eventRetention,
    newDeviceAlerts: options.newDeviceAlerts ?? true,
    clockTolerance: options.clockTolerance ?? DEFAULTS.clockTolerance,
    loginMaxFailedAttempts: options.loginMaxFailedAttempts ?? DEFAULTS.loginMaxFailedAttempts,
    loginMaxFailedAttemptsPerIp:
      options.loginMaxFailedAttemptsPerIp ??
      (options.loginMaxFailedAttempts ?? DEFAULTS.loginMaxFailedAttempts) * DEFAULTS.loginIpAttemptsFactor,
    loginMaxFailedAttemptsPerAccount:
      options.loginMaxFailedAttemptsPerAccount ?? DEFAULTS.loginMaxFailedAttemptsPerAccount,
    loginLockoutWindow: options.loginLockoutWindow ?? DEFAULTS.loginLockoutWindow,
    registerMaxPerIp: options.registerMaxPerIp ?? DEFAULTS.registerMaxPerIp,
    registerWindow: options.registerWindow ?? DEFAULTS.registerWindow,
    registerMaxPerNetwork: options.registerMaxPerNetwork ?? DEFAULTS.registerMaxPerNetwork,
    passwordChecksMaxPerIp: options.passwordChecksMaxPerIp ?? DEFAULTS.passwordChecksMaxPerIp,
    passwordChecksWindow: options.passwordChecksWindow ?? DEFAULTS.passwordChecksWindow,
    passwordChecksMaxPerNetwork: options.passwordChecksMaxPerNetwork ?? DEFAULTS.passwordChecksMaxPerNetwork,
    maxSessionsPerUser: options.maxSessionsPerUser ?? DEFAULTS.maxSessionsPerUser,
    revocationListenerUrl: options.revocationListenerUrl,
    strictRevocation: options.strictRevocation ?? false,
    revocationHeartbeatMs: options.revocationHeartbeatMs ?? DEFAULTS.revocationHeartbeatMs,
    trustedOrigins: new Set<string>(),
    passwordResetTtl: options.passwordResetTtl ?? DEFAULTS.passwordResetTtl,
    emailVerificationTtl: options.emailVerificationTtl ?? DEFAULTS.emailVerificationTtl,
    requireVerifiedEmail: options.requireVerifiedEmail ?? false,
    mailMaxPerIp: options.mailMaxPerIp ?? DEFAULTS.mailMaxPerIp,
    mailMaxPerEmail: options.mailMaxPerEmail ?? DEFAULTS.mailMaxPerEmail,
    mailMaxPerNetwork: options.mailMaxPerNetwork ?? DEFAULTS.mailMaxPerNetwork,
    mailWindow: options.mailWindow ?? DEFAULTS.mailWindow,
    recentAuthMaxAge: options.recentAuthMaxAge ?? DEFAULTS.recentAuthMaxAge,
    mfaMaxFailedAttempts: options.mfaMaxFailedAttempts ?? DEFAULTS.mfaMaxFailedAttempts,
    totpIssuer: options.totpIssuer ?? options.mail?.appName ?? DEFAULTS.totpIssuer,
    webauthn: null,
    oidc: null,
  };
  const problems: string[] = [];
  resolved.trustedOrigins = trustedOrigins(options.trustedOrigins ?? [], problems);
  if (!isSigningAlgorithm(resolved.algorithm)) {
    problems.push(`algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
  } else if (
    purpose === 'issuer' &&
    options.keyEncryptionSecret === undefined &&
    (isAsymmetric(resolved.algorithm) || !options.secret)
  ) {
    problems.push(
      isAsymmetric(resolved.algorithm)
        ? `keyEncryptionSecret is required with ${resolved.algorithm}: its private key is kept encrypted in signing_keys`
        : 'secret (or keyEncryptionSecret, to keep HMAC keys in signing_keys) is required',
    );
  }
  if (options.secret !== undefined && byteLength(options.secret) < MIN_HMAC_SECRET_BYTES)
    problems.push(`secret must be at least ${MIN_HMAC_SECRET_BYTES} bytes`);
  if (options.notificationSecret !== undefined && byteLength(options.notificationSecret) < MIN_SECRET_BYTES)
    problems.push(`notificationSecret must be at least ${MIN_SECRET_BYTES} bytes`);
  if (
    options.keyEncryptionSecret !== undefined &&
    byteLength(options.keyEncryptionSecret) < MIN_KEY_ENCRYPTION_SECRET_BYTES
  )
    problems.push(`keyEncryptionSecret must be at least ${MIN_KEY_ENCRYPTION_SECRET_BYTES} bytes`);
  positiveInteger('keyActivationDelay', resolved.keyActivationDelay, problems);
  positiveInteger('passwordResetTtl', resolved.passwordResetTtl, problems);
  positiveInteger('emailVerificationTtl', resolved.emailVerificationTtl, problems);
  positiveInteger('mailWindow', resolved.mailWindow, problems);
  atLeastOne('mailMaxPerIp', resolved.mailMaxPerIp, problems);
  atLeastOne('mailMaxPerEmail', resolved.mailMaxPerEmail, problems);
  if (options.mail) {
    let url: URL | undefined;
    try {
      url = new URL(options.mail.publicUrl);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
      problems.push('mail.publicUrl must be an http(s) URL such as https://app.example.com');
    }
    if (typeof options.mail.from !== 'string' || options.mail.from.trim() === '')
      problems.push('mail.from is required');
    if (!options.mail.transport || typeof options.mail.transport.send !== 'function')
      problems.push('mail.transport must have a send(message) method');
    const concurrency = options.mail.concurrency;
    if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 32))
      problems.push('mail.concurrency must be a whole number from 1 to 32');
    if (options.keyEncryptionSecret === undefined) {
      problems.push('keyEncryptionSecret is required with mail: the links waiting in the outbox are kept encrypted');
    }
  }
  positiveInteger('accessTokenTtl', resolved.accessTokenTtl, problems);
  positiveInteger('refreshTokenTtl', resolved.refreshTokenTtl, problems);
  positiveInteger('sessionMaxAge', resolved.sessionMaxAge, problems);
  positiveInteger('sessionRetention', resolved.sessionRetention, problems);
  positiveInteger('eventRetention', resolved.eventRetention, problems);
  positiveInteger('loginLockoutWindow', resolved.loginLockoutWindow, problems);
  if (!Number.isInteger(resolved.revocationHeartbeatMs) || resolved.revocationHeartbeatMs < 50)
    problems.push('revocationHeartbeatMs must be a whole number of milliseconds, 50 or more');
  // A session row must outlive the access tokens of its session, or a purged session could not revoke them.
  if (resolved.sessionRetention < resolved.accessTokenTtl)
    problems.push('sessionRetention must be at least accessTokenTtl');
  atLeastOne('loginMaxFailedAttempts', resolved.loginMaxFailedAttempts, problems);
  atLeastOne('loginMaxFailedAttemptsPerIp', resolved.loginMaxFailedAttemptsPerIp, problems);
  atLeastOne('loginMaxFailedAttemptsPerAccount', resolved.loginMaxFailedAttemptsPerAccount, problems);
  upToAMillion('registerMaxPerIp', resolved.registerMaxPerIp, problems);
  positiveInteger('registerWindow', resolved.registerWindow, problems);
  upToAMillion('registerMaxPerNetwork', resolved.registerMaxPerNetwork, problems);
  upToAMillion('passwordChecksMaxPerIp', resolved.passwordChecksMaxPerIp, problems);
  positiveInteger('passwordChecksWindow', resolved.passwordChecksWindow, problems);
  upToAMillion('passwordChecksMaxPerNetwork', resolved.passwordChecksMaxPerNetwork, problems);
  upToAMillion('maxSessionsPerUser', resolved.maxSessionsPerUser, problems);
  upToAMillion('mailMaxPerNetwork', resolved.mailMaxPerNetwork, problems);
  positiveInteger('recentAuthMaxAge', resolved.recentAuthMaxAge, problems);
  if (options.webauthn !== undefined) resolved.webauthn = relyingParty(options.webauthn, resolved.totpIssuer, problems);
  if (options.oidc !== undefined) resolved.oidc = oidcProviders(options.oidc, options.mail, problems);
  upToAMillion('mfaMaxFailedAttempts', resolved.mfaMaxFailedAttempts, problems);
  if (typeof resolved.totpIssuer !== 'string' || resolved.totpIssuer.trim() === '' || resolved.totpIssuer.length > 100)
    problems.push('totpIssuer must be a name of 1 to 100 characters');
  if (!Number.isInteger(resolved.refreshReuseGrace) || resolved.refreshReuseGrace < 0)
    problems.push('refreshReuseGrace must be a whole number of seconds, 0 or more');
  if (!Number.isInteger(resolved.clockTolerance) || resolved.clockTolerance < 0)
    problems.push('clockTolerance must be a whole number of seconds, 0 or more');
  if (
    !Number.isInteger(resolved.purgeBatchSize) ||
    resolved.purgeBatchSize < 1 ||
    resolved.purgeBatchSize > PURGE_BATCH_LIMIT
  )
    problems.push(`purgeBatchSize must be between 1 and ${PURGE_BATCH_LIMIT}`);
  if (resolved.purgeCron !== false && (typeof resolved.purgeCron !== 'string' || resolved.purgeCron.trim() === ''))
    problems.push('purgeCron must be a cron expression or false');
  if (problems.length > 0) throw new Error(`Invalid AuthModule options: ${problems.join('; ')}`);
  return resolved;
}

/**
 * Each trusted origin as browsers send it in `Origin`: scheme, host and port only, lower case,
 * default ports left out. Anything with a path, credentials or another scheme is refused.
 */
function trustedOrigins(origins: unknown, problems: string[]): ReadonlySet<string> {
  const normalised = new Set<string>();
  if (!Array.isArray(origins)) {
    problems.push('trustedOrigins must be a list of origins');
    return normalised;
  }
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = typeof origin === 'string' ? new URL(origin) : undefined;
    } catch {
      url = undefined;
    }
    const bare = url && (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password;
    if (!url || !bare || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
      problems.push(
        `trustedOrigins: ${JSON.stringify(origin)} is not an http(s) origin such as https://app.example.com`,
      );
      continue;
    }
    normalised.add(url.origin);
  }
  return normalised;
}

const PROVIDER_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * The OpenID Connect providers: ids unique and fit for a path, issuers https (http only for
 * localhost outside production: tests and local identity providers), a public URL to build the
 * redirect URIs from.
 */
function oidcProviders(
  options: AuthOidcOptions,
  mail: AuthModuleOptions['mail'],
  problems: string[],
): ResolvedOidc | null {
  const production = process.env.NODE_ENV === 'production';
  const publicUrl = (options?.publicUrl ?? mail?.publicUrl ?? '').replace(/\/+$/, '');
  let base: URL | undefined;
  try {
    base = new URL(publicUrl);
  } catch {
    base = undefined;
  }
  if (!base || !(base.protocol === 'https:' || (base.protocol === 'http:' && !production))) {
    problems.push('oidc.publicUrl (or mail.publicUrl) must be the https URL the app is reached at');
    return null;
  }
  const providers: ResolvedOidcProvider[] = [];
  const seen = new Set<string>();
  for (const given of Array.isArray(options?.providers) ? options.providers : []) {
    const id = given?.id;
    if (typeof id !== 'string' || !PROVIDER_ID.test(id)) {
      problems.push(`oidc.providers: id ${JSON.stringify(id)} must be 1 to 32 lower-case letters, digits or hyphens`);
      continue;
    }
    if (seen.has(id)) problems.push(`oidc.providers: id ${id} is given twice`);
    seen.add(id);
    let issuer: URL | undefined;
    try {
      issuer = new URL(given.issuer);
    } catch {
      issuer = undefined;
    }
    const local = issuer?.hostname === 'localhost' || issuer?.hostname === '127.0.0.1' || issuer?.hostname === '[::1]';
    if (!issuer || !(issuer.protocol === 'https:' || (issuer.protocol === 'http:' && local && !production))) {
      problems.push(
        `oidc.providers ${id}: the issuer must be an https URL (http only for localhost, outside production)`,
      );
      continue;
    }
    for (const field of ['name', 'clientId', 'clientSecret'] as const) {
      const value = given[field];
      if (typeof value !== 'string' || value.trim() === '' || value.length > 2048)
        problems.push(`oidc.providers ${id}: ${field} is required`);
    }
    const scopes = given.scopes ?? ['openid', 'email', 'profile'];
    if (
      !Array.isArray(scopes) ||
      !scopes.every((scope) => typeof scope === 'string' && /^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope))
    )
      problems.push(`oidc.providers ${id}: scopes must be a list of scope names`);
    providers.push({
      id,
      name: String(given.name ?? '').trim(),
      issuer: given.issuer,
      clientId: given.clientId,
      clientSecret: given.clientSecret,
      scopes: [...new Set(['openid', ...(Array.isArray(scopes) ? scopes : [])])],
      trustEmailVerified: given.trustEmailVerified === true,
    });
  }
  const pagesPath = `/${(options?.pagesPath ?? mail?.pagesPath ?? '/account').replace(/^\/+|\/+$/g, '')}`;
  return { providers, publicUrl: base.origin + base.pathname.replace(/\/+$/, ''), pagesPath };
}

/** A host name: dot-separated labels of letters, digits and inner hyphens (IPv6 literals are not). */
const DOMAIN_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * The passkeys' relying party: each origin an http(s) origin (http only for localhost, as
 * browsers allow WebAuthn there), the rpId a domain name (no IP address) every origin's host is,
 * or is under.
 */
function relyingParty(options: AuthWebAuthnOptions, defaultName: string, problems: string[]): ResolvedWebAuthn | null {
  const origins: string[] = [];
  for (const origin of Array.isArray(options?.origins) ? options.origins : []) {
    let url: URL | undefined;
    try {
      url = typeof origin === 'string' ? new URL(origin) : undefined;
    } catch {
      url = undefined;
    }
    // Browsers allow WebAuthn on http://localhost only (127.0.0.1 is no domain: see the rpId below).
    const local = url?.hostname === 'localhost';
    if (
      !url ||
      !(url.protocol === 'https:' || (url.protocol === 'http:' && local)) ||
      url.origin !== origin.replace(/\/$/, '')
    ) {
      problems.push(`webauthn.origins: ${JSON.stringify(origin)} is not an https origin (http only for localhost)`);
      continue;
    }
    origins.push(url.origin);
  }
  if (origins.length === 0) {
    problems.push('webauthn.origins must name at least one origin');
    return null;
  }
  const rpId = (options.rpId ?? new URL(origins[0]).hostname).toLowerCase();
  // Browsers make passkeys for a domain only: with an IP address, every ceremony would fail.
  if (!DOMAIN_NAME.test(rpId) || /^[\d.]+$/.test(rpId)) {
    problems.push(`webauthn.rpId ${JSON.stringify(rpId)} is not a domain name (browsers refuse IP addresses)`);
    return null;
  }
  for (const origin of origins) {
    const host = new URL(origin).hostname;
    if (host !== rpId && !host.endsWith(`.${rpId}`))
      problems.push(`webauthn.rpId ${rpId} does not cover the origin ${origin}`);
  }
  return { origins, rpId, rpName: options.rpName ?? defaultName };
}

function byteLength(secret: string | Buffer): number {
  return typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : secret.length;
}

/**
 * What the module's keys are built from: the `secret` option's key (its algorithm is the
 * configured one when that is HMAC, HS256 otherwise: the default the secret signed with before an
 * asymmetric algorithm was chosen), and the key encryption. Called after resolveAuthOptions.
 */
export function issuerKeySettings(
  options: AuthModuleOptions,
  resolved: ResolvedAuthOptions,
  mode: 'issuer' | 'operator' = 'issuer',
): KeySettings {
  const secretAlgorithm: HmacAlgorithm = isAsymmetric(resolved.algorithm) ? 'HS256' : resolved.algorithm;
  return {
    mode,
    algorithm: resolved.algorithm,
    secretKey: options.secret ? keyFromSecretOption(options.secret, secretAlgorithm) : undefined,
    encryption: options.keyEncryptionSecret ? new KeyEncryption(options.keyEncryptionSecret) : undefined,
    verifyWindowSeconds: Math.max(resolved.accessTokenTtl, resolved.refreshTokenTtl) + resolved.clockTolerance,
  };
}
