import { MIN_KEY_ENCRYPTION_SECRET_BYTES } from '../keys/key-encryption.js';
import {
  isSigningAlgorithm,
  MIN_HMAC_SECRET_BYTES,
  SIGNING_ALGORITHMS,
  type SigningAlgorithm,
} from '../keys/signing-algorithms.js';
import type { CliCommand } from './cli-commands.js';

/**
 * What the `nest-jwt-revocation` bin reads from the environment. The lifetimes must be the app's
 * own where it changed the defaults: key retirement and the purge compute their cut-offs from them.
 */
export const OPERATOR_ENVIRONMENT_HELP = `Environment:
  DATABASE_URL           every command: the app's PostgreSQL (postgres://user:pass@host:5432/db)
  KEY_ENCRYPTION_SECRET  keys rotate, keys reencrypt (required; for keys reencrypt, the secret the keys are
                         encrypted under now); keys revoke, when it revokes the key that signs now;
                         keys list and keys retire check the stored keys with it
  NEW_KEY_ENCRYPTION_SECRET
                         keys reencrypt (required): the secret the keys are re-encrypted under
  JWT_SECRET             keys list, keys retire: the app's \`secret\` option, if it has one
  NOTIFICATION_SECRET    the app's notificationSecret, if it has one. What a command changes is announced to
                         the app's instances signed with a key derived from this, or else from JWT_SECRET or
                         KEY_ENCRYPTION_SECRET: revoke-user, keys revoke, keys retire and a purge given
                         both lifetimes (it retires keys) need one of the three
  JWT_ALGORITHM          keys rotate: the algorithm of the new key when --algorithm is not given
                         (HS256, EdDSA or ES256); without either, that of the key signing now
  The app's lifetimes in seconds (the module option in brackets), where it changed the defaults:
  SESSION_RETENTION [sessionRetention], LOGIN_LOCKOUT_WINDOW [loginLockoutWindow] (purge),
  KEY_ACTIVATION_DELAY [keyActivationDelay], CLOCK_TOLERANCE [clockTolerance] (keys), and always
  for keys retire, ACCESS_TOKEN_TTL [accessTokenTtl] and REFRESH_TOKEN_TTL [refreshTokenTtl]: a key
  retires once no token it signed can be live. Without these two, purge retires no key (the app's
  own purge job does) and keys list dates the end of a key's use from the defaults.`;

export interface OperatorEnvironment {
  databaseUrl: string;
  secret?: string;
  keyEncryptionSecret?: string;
  notificationSecret?: string;
  /** `keys reencrypt` only; never a module option. */
  newKeyEncryptionSecret?: string;
  algorithm?: SigningAlgorithm;
  accessTokenTtl?: number;
  refreshTokenTtl?: number;
  clockTolerance?: number;
  keyActivationDelay?: number;
  sessionRetention?: number;
  loginLockoutWindow?: number;
}

/** A missing or malformed variable: exit code 2, one line. */
export class OperatorEnvironmentError extends Error {}

type Env = Record<string, string | undefined>;

const SECONDS = {
  ACCESS_TOKEN_TTL: 'accessTokenTtl',
  REFRESH_TOKEN_TTL: 'refreshTokenTtl',
  CLOCK_TOLERANCE: 'clockTolerance',
  KEY_ACTIVATION_DELAY: 'keyActivationDelay',
  SESSION_RETENTION: 'sessionRetention',
  LOGIN_LOCKOUT_WINDOW: 'loginLockoutWindow',
} as const;

/** The module's own minimums, checked here before it loads. */
const MIN_SECRET_BYTES = {
  JWT_SECRET: MIN_HMAC_SECRET_BYTES,
  KEY_ENCRYPTION_SECRET: MIN_KEY_ENCRYPTION_SECRET_BYTES,
  NOTIFICATION_SECRET: MIN_HMAC_SECRET_BYTES,
};
/** Commands that always announce a change on the notification channel: they sign it. */
const ANNOUNCING = new Set(['revoke-user', 'keys revoke', 'keys retire']);

/** Reads and checks what `command` needs; the first problem is thrown as one line. */
export function readOperatorEnvironment(env: Env, command: CliCommand): OperatorEnvironment {
  const databaseUrl = postgresUrl(env, 'DATABASE_URL');
  if (!databaseUrl) throw new OperatorEnvironmentError('DATABASE_URL is required (postgres://user:pass@host:5432/db)');
  const result: OperatorEnvironment = { databaseUrl };
  for (const name of ['JWT_SECRET', 'KEY_ENCRYPTION_SECRET', 'NOTIFICATION_SECRET'] as const) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (Buffer.byteLength(value, 'utf8') < MIN_SECRET_BYTES[name]) {
      throw new OperatorEnvironmentError(`${name} must be at least ${MIN_SECRET_BYTES[name]} bytes`);
    }
    if (name === 'JWT_SECRET') result.secret = value;
    else if (name === 'NOTIFICATION_SECRET') result.notificationSecret = value;
    else result.keyEncryptionSecret = value;
  }
  if (command.keys === 'write' && !result.keyEncryptionSecret) {
    throw new OperatorEnvironmentError(
      `${command.name} needs KEY_ENCRYPTION_SECRET (the app's keyEncryptionSecret): a new key is stored encrypted with it`,
    );
  }
  if (command.name === 'keys reencrypt') {
    const next = env.NEW_KEY_ENCRYPTION_SECRET;
    if (!next || Buffer.byteLength(next, 'utf8') < MIN_KEY_ENCRYPTION_SECRET_BYTES) {
      throw new OperatorEnvironmentError(
        `keys reencrypt needs NEW_KEY_ENCRYPTION_SECRET, at least ${MIN_KEY_ENCRYPTION_SECRET_BYTES} bytes: the secret the keys are re-encrypted under`,
      );
    }
    if (next === result.keyEncryptionSecret) {
      throw new OperatorEnvironmentError('NEW_KEY_ENCRYPTION_SECRET is KEY_ENCRYPTION_SECRET: nothing to re-encrypt');
    }
    result.newKeyEncryptionSecret = next;
  }
  const algorithm = env.JWT_ALGORITHM?.trim();
  if (algorithm) {
    if (!isSigningAlgorithm(algorithm)) {
      throw new OperatorEnvironmentError(
        `JWT_ALGORITHM must be one of ${SIGNING_ALGORITHMS.join(', ')} (got "${env.JWT_ALGORITHM}")`,
      );
    }
    result.algorithm = algorithm;
  }
  for (const [name, option] of Object.entries(SECONDS)) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const value = Number(raw);
    // A clock tolerance of 0 is the app's to choose; a lifetime or a delay of 0 is not.
    const least = name === 'CLOCK_TOLERANCE' ? 0 : 1;
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < least) {
      throw new OperatorEnvironmentError(`${name} must be a whole number of seconds, ${least} or more (got "${raw}")`);
    }
    result[option] = value;
  }
  if (command.name === 'keys retire' && (result.accessTokenTtl === undefined || result.refreshTokenTtl === undefined)) {
    throw new OperatorEnvironmentError(
      "keys retire needs ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL, the app's (even when they are the defaults, 900 and 1209600): a key retired before its last token expires signs users out",
    );
  }
  // The purge retires keys (and announces it) only with both lifetimes.
  const announces =
    ANNOUNCING.has(command.name) ||
    (command.name === 'purge' && result.accessTokenTtl !== undefined && result.refreshTokenTtl !== undefined);
  if (announces && !result.secret && !result.keyEncryptionSecret && !result.notificationSecret) {
    // Unsigned, the app's instances would drop the announcement: the change would reach them late.
    throw new OperatorEnvironmentError(
      `${command.name} needs NOTIFICATION_SECRET, JWT_SECRET or KEY_ENCRYPTION_SECRET (the app's): the app's instances hear of the change only when it is signed`,
    );
  }
  return result;
}

function postgresUrl(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OperatorEnvironmentError(`${name} must be a postgres:// URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new OperatorEnvironmentError(`${name} must be a postgres:// URL`);
  }
  return raw;
}
