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
  KEY_ENCRYPTION_SECRET  keys rotate (required); keys list and keys retire check the stored keys with it
  JWT_SECRET             keys list, keys retire: the app's \`secret\` option, if it has one
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
const MIN_SECRET_BYTES = { JWT_SECRET: MIN_HMAC_SECRET_BYTES, KEY_ENCRYPTION_SECRET: MIN_KEY_ENCRYPTION_SECRET_BYTES };

/** Reads and checks what `command` needs; the first problem is thrown as one line. */
export function readOperatorEnvironment(env: Env, command: CliCommand): OperatorEnvironment {
  const databaseUrl = postgresUrl(env, 'DATABASE_URL');
  if (!databaseUrl) throw new OperatorEnvironmentError('DATABASE_URL is required (postgres://user:pass@host:5432/db)');
  const result: OperatorEnvironment = { databaseUrl };
  for (const name of ['JWT_SECRET', 'KEY_ENCRYPTION_SECRET'] as const) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (Buffer.byteLength(value, 'utf8') < MIN_SECRET_BYTES[name]) {
      throw new OperatorEnvironmentError(`${name} must be at least ${MIN_SECRET_BYTES[name]} bytes`);
    }
    if (name === 'JWT_SECRET') result.secret = value;
    else result.keyEncryptionSecret = value;
  }
  if (command.keys === 'write' && !result.keyEncryptionSecret) {
    throw new OperatorEnvironmentError(
      `${command.name} needs KEY_ENCRYPTION_SECRET (the app's keyEncryptionSecret): a new key is stored encrypted with it`,
    );
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
