import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { childEnv, waitForOutput } from './support/launch.js';

const ROOT = resolve(import.meta.dirname, '..');
/** The built example app's config loader (dist/, built by the global setup), as `npm start` runs it. */
const CONFIG_MODULE = pathToFileURL(join(ROOT, 'dist/src/example/config/app.config.js')).href;
const PROCESSES = 8;
/** Fresh data directories raced for, one after another, by the same processes. */
const ROUNDS = 40;
/** Milliseconds between rounds: every process starts round i at the same wall-clock millisecond. */
const GAP = 15;

const digest = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * A process that loads the config module, says "ready", and on a line on stdin (a wall-clock time)
 * loads the config as the example app does at start, no secrets in the environment, so both are
 * generated, in every data directory in turn: round i starts at that time + i * GAP, so that the
 * processes running then reach the files within microseconds of each other (released by a
 * message each, they were too far apart: the original code lost one round in ten). It prints, per
 * round, digests of the secrets it got (never the secrets) or the error.
 */
const LOADER = `
const { loadAppConfig } = await import(process.env.CONFIG_MODULE);
const { createHash } = await import('node:crypto');
const digest = (text) => createHash('sha256').update(text).digest('hex');
const dataDirs = JSON.parse(process.env.DATA_DIRS);
process.stdout.write('ready\\n');
process.stdin.once('data', (line) => {
  const start = Number(String(line));
  const rounds = dataDirs.map((dataDir, round) => {
    while (Date.now() < start + round * ${GAP});
    try {
      const config = loadAppConfig({}, dataDir);
      return { jwt: digest(config.jwtSecret), kek: digest(config.keyEncryptionSecret) };
    } catch (error) {
      return { error: String(error?.message ?? error) };
    }
  });
  process.stdout.write(JSON.stringify(rounds) + '\\n');
  process.exit(0);
});
`;

describe('development secrets of the example app, created by processes started at once', () => {
  it(`${PROCESSES} processes loading the config together on a fresh checkout all start, with one secret each`, async () => {
    // Fresh checkouts: not even .data/ exists yet.
    const dataDirs = Array.from({ length: ROUNDS }, () =>
      join(mkdtempSync(join(tmpdir(), 'auth-secrets-race-')), '.data'),
    );
    const children = Array.from({ length: PROCESSES }, () =>
      spawn(process.execPath, ['--input-type=module', '-e', LOADER], {
        env: childEnv({ CONFIG_MODULE, DATA_DIRS: JSON.stringify(dataDirs) }),
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const outcomes = children.map(
      (child) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          child.once('exit', (code) => done({ code, stdout, stderr }));
        }),
    );
    // Everyone loaded and waiting, then all go at the same instant, round after round.
    await Promise.all(children.map((child) => waitForOutput(child, /ready\n/, 20_000)));
    const start = Date.now() + 200;
    for (const child of children) child.stdin.write(`${start}\n`);
    const results = await Promise.all(outcomes);
    expect(results.map(({ code, stderr }) => ({ code, stderr }))).toEqual(results.map(() => ({ code: 0, stderr: '' })));
    const perProcess = results.map(
      ({ stdout }) => JSON.parse(stdout.split('\n').find((line) => line.startsWith('[')) ?? '[]') as unknown[],
    );

    dataDirs.forEach((dataDir, round) => {
      // Every process runs on what is on disk: the same two secrets, distinct, complete, owner-only.
      const onDisk = {
        jwt: digest(readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim()),
        kek: digest(readFileSync(join(dataDir, 'key-encryption-secret'), 'utf8').trim()),
      };
      expect({ round, got: perProcess.map((rounds) => rounds[round]) }).toEqual({
        round,
        got: perProcess.map(() => onDisk),
      });
      expect(onDisk.jwt).not.toBe(onDisk.kek);
      expect(onDisk.jwt).not.toBe(digest(''));
      for (const name of ['jwt-secret', 'key-encryption-secret']) {
        expect({ round, name, mode: statSync(join(dataDir, name)).mode & 0o777 }).toEqual({ round, name, mode: 0o600 });
      }
      // The losers' temp files are gone.
      expect({ round, files: readdirSync(dataDir).sort() }).toEqual({
        round,
        files: ['jwt-secret', 'key-encryption-secret'],
      });
    });
  }, 60_000);
});
