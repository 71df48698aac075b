import { parseArgs } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import type { KeyTimeline } from '../keys/signing-keys.service.js';
import { isSigningAlgorithm, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../keys/signing-algorithms.js';

/**
 * The services, loaded when a command runs: parsing (and --help, and a typo) must not wait for
 * Nest, TypeORM and the module to load.
 */
const services = async () => {
  // One after the other: Jest's ESM loader (the unit specs) fails on concurrent dynamic imports.
  const { AccountService } = await import('../accounts/account.service.js');
  const { KeyRevocationError, KeyRotationPendingError, KeyRotationService } =
    await import('../keys/key-rotation.service.js');
  const { KeyUnusableError } = await import('../keys/signing-keys.service.js');
  const { PurgeService } = await import('../purge/purge.service.js');
  const { RevocationService } = await import('../revocation/revocation.service.js');
  const { MfaService } = await import('../mfa/mfa.service.js');
  const { RolesService } = await import('../roles/roles.service.js');
  return {
    MfaService,
    RolesService,
    AccountService,
    KeyRevocationError,
    KeyRotationPendingError,
    KeyRotationService,
    KeyUnusableError,
    PurgeService,
    RevocationService,
  };
};

/**
 * The operator commands, shared by the package's `nest-jwt-revocation` bin and the example app's
 * `npm run cli`: parsed before anything starts (a typo costs no database connection), then run
 * against an application context that holds the module's services.
 */
export const CLI_COMMANDS_HELP = `Commands:
  purge                                  delete expired denylist rows, long-ended sessions, old failed logins,
                                         expired account tokens and retired keys once, and print the counts
  revoke-user <email> [--until <ISO-8601>]
                                         revoke every token of the user on every instance; with --until in the
                                         future, also suspend the account until then (login answers 403)
  mfa reset <email>                      remove the user's second factor (authenticator app, recovery codes) and
                                         end every session of the user on every instance: after support has
                                         checked the user's identity another way
  roles grant <email> <role>             give the user a role (e.g. admin); every session of the user ends on
                                         every instance, so that the next tokens carry it
  roles revoke <email> <role>            take a role away; every session of the user ends on every instance
  roles list <email>                     the user's roles, one per line
  keys list                              every signing key: kid, algorithm, state (next, current, previous,
                                         expired, revoked) and dates
  keys rotate [--algorithm EdDSA|ES256|HS256]
                                         add a key (default: the configured algorithm) that every instance
                                         learns now and that signs after the activation delay; older keys
                                         keep verifying until their last token has expired
  keys retire                            delete the keys no live token can have been signed with
  keys revoke <kid>                      a leaked key: every instance and verifier refuses every token it signed
                                         (access and refresh) at once, and JWKS drops it; if it signs now, a new
                                         key of its algorithm signs in its place at once (needs
                                         KEY_ENCRYPTION_SECRET)
  keys reencrypt                         re-encrypt every stored key from KEY_ENCRYPTION_SECRET to
                                         NEW_KEY_ENCRYPTION_SECRET in one transaction, with the authenticator
                                         apps' secrets (nothing changes unless every one decrypts); then
                                         restart every instance with the new secret`;

/** What a key id may look like (signing-key.ts's KID_PATTERN, not loaded to parse). */
const KID = /^[A-Za-z0-9_-]{1,64}$/;

/** A wrong invocation: exit code 2 with one line that says what is wrong. */
export class CliUsageError extends Error {}

/** Where a command writes: stdout for results, stderr for refusals. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export const consoleOutput: CliOutput = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/** What the command may assume of the app's configuration. */
export interface CliSettings {
  /**
   * Whether the CLI was given the app's token lifetimes. A key retires once no token it signed
   * can be live; computed from the defaults instead of the app's longer lifetimes, it would retire
   * too early and sign users out. Without them, `purge` leaves the keys to the app's own purge.
   */
  keyLifetimesKnown: boolean;
  /** The algorithm `keys rotate` adds without --algorithm; absent: that of the key signing now. */
  rotationAlgorithm?: SigningAlgorithm;
  /** `keys reencrypt`: the secret the keys are re-encrypted under (NEW_KEY_ENCRYPTION_SECRET). */
  newKeyEncryptionSecret?: string;
}

export interface CliCommand {
  /** For the help text and messages. */
  name: string;
  /** Whether the command reads or writes keys (the CLI then needs the key secrets). */
  keys: 'none' | 'read' | 'write';
  run(app: INestApplicationContext, output: CliOutput, settings: CliSettings): Promise<number>;
}

/** Parses argv (without node and the script). Throws CliUsageError for anything it does not know. */
export function parseCliCommand(argv: string[]): CliCommand {
  const [name, ...rest] = argv;
  if (name === 'purge') {
    noArguments('purge', rest);
    return { name, keys: 'none', run: purge };
  }
  if (name === 'revoke-user') {
    const parsed = parse(() =>
      parseArgs({ args: rest, allowPositionals: true, strict: true, options: { until: { type: 'string' } } }),
    );
    const [email, ...extra] = parsed.positionals;
    if (!email || extra.length > 0) throw new CliUsageError('revoke-user takes exactly one email');
    const untilText = parsed.values.until;
    const until = untilText === undefined ? undefined : parseInstant(untilText);
    return { name, keys: 'none', run: (app, output) => revokeUser(app, output, email, until) };
  }
  if (name === 'keys') return parseKeysCommand(rest);
  if (name === 'mfa') {
    const [action, ...args] = rest;
    if (action !== 'reset') {
      throw new CliUsageError(action === undefined ? 'mfa needs an action: reset' : `Unknown mfa action: ${action}`);
    }
    const parsed = parse(() => parseArgs({ args, allowPositionals: true, strict: true, options: {} }));
    const [email, ...extra] = parsed.positionals;
    if (!email || extra.length > 0) throw new CliUsageError('mfa reset takes exactly one email');
    return { name: 'mfa reset', keys: 'none', run: (app, output) => resetMfa(app, output, email) };
  }
  if (name === 'roles') return parseRolesCommand(rest);
  throw new CliUsageError(name === undefined ? 'No command given' : `Unknown command: ${name}`);
}

/** What a role may be called (role-names.ts's rule, not loaded to parse). */
const ROLE = /^[a-z][a-z0-9_-]{0,31}$/;

function parseRolesCommand(args: string[]): CliCommand {
  const [action, ...rest] = args;
  const parsed = parse(() => parseArgs({ args: rest, allowPositionals: true, strict: true, options: {} }));
  if (action === 'list') {
    const [email, ...extra] = parsed.positionals;
    if (!email || extra.length > 0) throw new CliUsageError('roles list takes exactly one email');
    return { name: 'roles list', keys: 'none', run: (app, output) => listRoles(app, output, email) };
  }
  if (action === 'grant' || action === 'revoke') {
    const [email, role, ...extra] = parsed.positionals;
    if (!email || !role || extra.length > 0) throw new CliUsageError(`roles ${action} takes an email and a role`);
    if (!ROLE.test(role)) {
      throw new CliUsageError(
        'A role name is lower-case letters, digits, _ and -, starting with a letter, at most 32 characters',
      );
    }
    return {
      name: `roles ${action}`,
      keys: 'none',
      run: (app, output) => changeRole(app, output, email, role, action),
    };
  }
  throw new CliUsageError(
    action === undefined ? 'roles needs an action: grant, revoke or list' : `Unknown roles action: ${action}`,
  );
}

function parseKeysCommand(args: string[]): CliCommand {
  const [action, ...rest] = args;
  if (action === 'list') {
    noArguments('keys list', rest);
    return { name: 'keys list', keys: 'read', run: listKeys };
  }
  if (action === 'retire') {
    noArguments('keys retire', rest);
    return { name: 'keys retire', keys: 'read', run: retireKeys };
  }
  if (action === 'revoke') {
    const parsed = parse(() => parseArgs({ args: rest, allowPositionals: true, strict: true, options: {} }));
    const [kid, ...extra] = parsed.positionals;
    if (!kid || extra.length > 0) throw new CliUsageError('keys revoke takes exactly one kid (keys list shows them)');
    if (!KID.test(kid)) throw new CliUsageError(`"${kid}" is not a key id (keys list shows them)`);
    // The key-encryption secret is needed only to replace the key that signs now (the service says so).
    return { name: 'keys revoke', keys: 'read', run: (app, output) => revokeKey(app, output, kid) };
  }
  if (action === 'reencrypt') {
    noArguments('keys reencrypt', rest);
    return { name: 'keys reencrypt', keys: 'write', run: reencryptKeys };
  }
  if (action === 'rotate') {
    const parsed = parse(() => parseArgs({ args: rest, strict: true, options: { algorithm: { type: 'string' } } }));
    const algorithm = parsed.values.algorithm;
    if (algorithm !== undefined && !isSigningAlgorithm(algorithm)) {
      throw new CliUsageError(`--algorithm must be one of ${SIGNING_ALGORITHMS.join(', ')} (got "${algorithm}")`);
    }
    return {
      name: 'keys rotate',
      keys: 'write',
      run: (app, output, settings) => rotateKeys(app, output, algorithm ?? settings.rotationAlgorithm),
    };
  }
  throw new CliUsageError(
    action === undefined
      ? 'keys needs an action: list, rotate, retire, revoke or reencrypt'
      : `Unknown keys action: ${action}`,
  );
}

function noArguments(command: string, rest: string[]): void {
  if (rest.length > 0) throw new CliUsageError(`${command} takes no arguments (got: ${rest.join(' ')})`);
}

function parse<T>(parseArguments: () => T): T {
  try {
    return parseArguments();
  } catch (error) {
    throw new CliUsageError((error as Error).message.split('\n')[0]);
  }
}

/**
 * ISO-8601 with a date and a time zone (or Z), so that an instant never depends on the machine's
 * zone; a real calendar date and time (no 30 February rolled into March); in the future, since a
 * suspension that has already ended is a mistake, not a ban.
 */
export function parseInstant(text: string, now = Date.now()): Date {
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):?(\d{2})))?$/.exec(
    text,
  );
  const date = new Date(text);
  const [, year, month, day, hour = '0', minute = '0', second = '0', offsetHours = '0', offsetMinutes = '0'] =
    iso ?? [];
  const calendar = iso ? new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))) : null;
  const valid =
    calendar !== null &&
    !Number.isNaN(date.getTime()) &&
    calendar.getUTCFullYear() === Number(year) &&
    calendar.getUTCMonth() === Number(month) - 1 &&
    calendar.getUTCDate() === Number(day) &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second) <= 59 &&
    Number(offsetHours) <= 23 &&
    Number(offsetMinutes) <= 59;
  if (!valid) {
    throw new CliUsageError(`--until must be an ISO-8601 date-time such as 2026-12-01T00:00:00Z (got "${text}")`);
  }
  if (date.getTime() <= now) {
    throw new CliUsageError(`--until must be in the future (got "${text}"); without --until, revoke-user only revokes`);
  }
  return date;
}

const instant = (date: Date | null) => (date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

function printKeys(keys: KeyTimeline[], output: CliOutput): void {
  const rows = [
    ['KID', 'ALGORITHM', 'STATE', 'CREATED', 'SIGNS FROM', 'VERIFIES UNTIL'],
    ...keys.map((key) => [
      key.fromSecretOption ? `${key.kid} (JWT_SECRET)` : key.kid,
      key.algorithm,
      key.state,
      instant(key.createdAt),
      instant(key.activatesAt),
      key.verifyUntil ? instant(key.verifyUntil) : '-',
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) {
    output.out(
      row
        .map((cell, column) => cell.padEnd(widths[column]))
        .join('  ')
        .trimEnd(),
    );
  }
}

async function listKeys(app: INestApplicationContext, output: CliOutput): Promise<number> {
  const { KeyRotationService } = await services();
  const keys = await app.get(KeyRotationService).list();
  if (keys.length === 0) output.out('No signing keys.');
  else printKeys(keys, output);
  return 0;
}

async function rotateKeys(
  app: INestApplicationContext,
  output: CliOutput,
  algorithm: SigningAlgorithm | undefined,
): Promise<number> {
  const { KeyRotationPendingError, KeyRotationService } = await services();
  const rotation = app.get(KeyRotationService);
  // Without a choice, the kind of key that signs now: a key of another algorithm would change
  // what the app signs with once it activates, under every verifier's feet.
  const signingNow = (await rotation.list()).find((key) => key.state === 'current')?.algorithm;
  const chosen = algorithm ?? (signingNow && isSigningAlgorithm(signingNow) ? signingNow : undefined);
  try {
    const rotated = await rotation.rotate(chosen);
    output.out(
      `Published signing key ${rotated.kid} (${rotated.algorithm}); every instance has it now, and it signs from ${instant(rotated.activatesAt)}.`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof KeyRotationPendingError)) throw error;
    output.err(error.message);
    return 1;
  }
}

async function revokeKey(app: INestApplicationContext, output: CliOutput, kid: string): Promise<number> {
  if (!(await instancesWillHear(app, output))) return 1;
  const { KeyRevocationError, KeyRotationService, KeyUnusableError } = await services();
  try {
    const revoked = await app.get(KeyRotationService).revoke(kid);
    if (!revoked.changed) {
      output.out(`Signing key ${kid} was already revoked (${instant(revoked.revokedAt)}); nothing changed.`);
      return 0;
    }
    const replaced = revoked.replacement
      ? ` Key ${revoked.replacement.kid} (${revoked.replacement.algorithm}) signs in its place.`
      : '';
    output.out(`Revoked signing key ${kid}: every instance refuses every token it signed from now on.${replaced}`);
    return 0;
  } catch (error) {
    if (!(error instanceof KeyRevocationError) && !(error instanceof KeyUnusableError)) throw error;
    output.err(error.message);
    return 1;
  }
}

/** Shortest NEW_KEY_ENCRYPTION_SECRET (MIN_KEY_ENCRYPTION_SECRET_BYTES, not loaded to parse). */
const MIN_NEW_SECRET_BYTES = 32;

async function reencryptKeys(app: INestApplicationContext, output: CliOutput, settings: CliSettings): Promise<number> {
  const secret = settings.newKeyEncryptionSecret;
  if (!secret || Buffer.byteLength(secret, 'utf8') < MIN_NEW_SECRET_BYTES) {
    output.err(
      `keys reencrypt needs NEW_KEY_ENCRYPTION_SECRET, at least ${MIN_NEW_SECRET_BYTES} bytes: the secret the keys are re-encrypted under`,
    );
    return 2;
  }
  const { KeyRotationService, KeyUnusableError } = await services();
  try {
    const { keys, totpSecrets } = await app.get(KeyRotationService).reencryptAll(secret);
    output.out(
      `Re-encrypted ${keys.length} signing key(s) and ${totpSecrets} authenticator-app secret(s) under NEW_KEY_ENCRYPTION_SECRET; restart every instance with it as KEY_ENCRYPTION_SECRET.`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof KeyUnusableError)) throw error;
    output.err(error.message);
    return 1;
  }
}

async function retireKeys(app: INestApplicationContext, output: CliOutput): Promise<number> {
  const { KeyRotationService } = await services();
  const retired = await app.get(KeyRotationService).retire();
  output.out(retired.length === 0 ? 'No key to retire.' : `Retired ${retired.length} key(s): ${retired.join(', ')}.`);
  return 0;
}

async function purge(app: INestApplicationContext, output: CliOutput, settings: CliSettings): Promise<number> {
  const { PurgeService } = await services();
  const result = await app.get(PurgeService).purgeExpired({ retireKeys: settings.keyLifetimesKnown });
  if (result.skipped) {
    output.out('Another instance holds the purge lock; nothing deleted.');
    return 0;
  }
  output.out(
    `Deleted ${result.revokedTokens} expired revoked token(s), ${result.sessions} ended session(s), ${result.loginFailures} old failed login(s), ${result.rateLimitHits} old rate-limit hit(s), ${result.deletedUsers} old tombstone(s), ${result.accountTokens} expired account token(s), ${result.mfaChallenges} expired second step(s) of sign-in, ${result.webauthnChallenges} expired passkey challenge(s), ${result.oidcSignIns} expired provider sign-in(s) and ${result.events} old security event(s) in ${result.statements} batch(es), ` +
      (settings.keyLifetimesKnown
        ? `and retired ${result.signingKeys} signing key(s).`
        : 'and retired no signing key (set ACCESS_TOKEN_TTL and REFRESH_TOKEN_TTL to the app’s to retire them here; the app’s own purge does).'),
  );
  return 0;
}

/**
 * False (and one line on stderr) when the running instances sign their channel with another key
 * than this CLI: they would drop its announcement and keep accepting the revoked tokens from
 * memory. See checkChannelKey.
 */
async function instancesWillHear(app: INestApplicationContext, output: CliOutput): Promise<boolean> {
  const { checkChannelKey } = await import('./channel-check.js');
  if ((await checkChannelKey(app)) !== 'mismatch') return true;
  output.err(
    'The running instances sign the notification channel with another key than this CLI would, and would drop its announcement: ' +
      "give it the app's NOTIFICATION_SECRET (without one, its JWT_SECRET; without that, its KEY_ENCRYPTION_SECRET). Nothing was changed.",
  );
  return false;
}

async function revokeUser(
  app: INestApplicationContext,
  output: CliOutput,
  email: string,
  until: Date | undefined,
): Promise<number> {
  if (!(await instancesWillHear(app, output))) return 1;
  const { AccountService, RevocationService } = await services();
  const user = await app.get(AccountService).findUserByEmail(email);
  if (!user) {
    output.err(`No user with email ${email}`);
    return 1;
  }
  if (!(await app.get(RevocationService).revokeAllForUser(user.id, { until }, OPERATOR))) {
    // Deleted between the lookup and the revocation.
    output.err(`No user with email ${email}`);
    return 1;
  }
  const suspended = until !== undefined;
  output.out(
    suspended
      ? `Revoked every token of ${user.email}; account suspended until ${until.toISOString()}.`
      : `Revoked every token of ${user.email}.`,
  );
  return 0;
}

/** The CLI's events: by the system (an operator at a terminal), not by the user. */
const OPERATOR = { actor: { kind: 'system' as const } };

async function resetMfa(app: INestApplicationContext, output: CliOutput, email: string): Promise<number> {
  if (!(await instancesWillHear(app, output))) return 1;
  const { AccountService, MfaService, RevocationService } = await services();
  const user = await app.get(AccountService).findUserByEmail(email);
  if (!user) {
    output.err(`No user with email ${email}`);
    return 1;
  }
  const removed = await app.get(MfaService).reset(user.id);
  // Whoever held a session (perhaps the one who lost the factor to someone else) signs in again.
  await app.get(RevocationService).revokeAllForUser(user.id, { reason: 'mfa_reset' }, OPERATOR);
  output.out(
    removed
      ? `Removed the second factor of ${user.email} and ended every session; the next login asks for the password alone.`
      : `${user.email} had no second factor; every session ended.`,
  );
  return 0;
}

async function listRoles(app: INestApplicationContext, output: CliOutput, email: string): Promise<number> {
  const { AccountService, RolesService } = await services();
  const user = await app.get(AccountService).findUserByEmail(email);
  if (!user) {
    output.err(`No user with email ${email}`);
    return 1;
  }
  for (const role of await app.get(RolesService).rolesOf(user.id)) output.out(role);
  return 0;
}

async function changeRole(
  app: INestApplicationContext,
  output: CliOutput,
  email: string,
  role: string,
  action: 'grant' | 'revoke',
): Promise<number> {
  if (!(await instancesWillHear(app, output))) return 1;
  const { AccountService, RolesService } = await services();
  const user = await app.get(AccountService).findUserByEmail(email);
  if (!user) {
    output.err(`No user with email ${email}`);
    return 1;
  }
  const roles = app.get(RolesService);
  const before = await roles.rolesOf(user.id);
  const change = action === 'grant' ? { add: [role] } : { remove: [role] };
  const after = await roles.change(user.id, change, OPERATOR).catch((error: Error) => {
    output.err(error.message);
    return null;
  });
  if (after === null) return 1;
  const changed = before.length !== after.length || before.some((each, index) => each !== after[index]);
  const list = after.length > 0 ? after.join(', ') : 'none';
  output.out(
    changed
      ? `${action === 'grant' ? 'Granted' : 'Revoked'} ${role} ${action === 'grant' ? 'to' : 'from'} ${user.email} and ended every session; roles now: ${list}.`
      : `${user.email} ${action === 'grant' ? 'already has' : 'does not have'} ${role}; nothing changed (roles: ${list}).`,
  );
  return 0;
}
