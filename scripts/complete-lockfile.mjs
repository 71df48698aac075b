// Adds to package-lock.json the platform-specific optional packages that the registry mirror of
// this workplace does not serve (e.g. @unrs/resolver-binding-darwin-arm64, used by Jest 30).
// `npm install` here leaves them out, and `npm ci` then refuses the lock file as out of sync.
// The added entries carry only name, version and the optional flag: on this mirror npm skips them,
// and elsewhere npm fetches them from the registry as usual. Run after changing dependencies:
//   npm install && node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages;
const added = [];
for (const [path, meta] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = `${path ? `${path}/` : ''}node_modules/${name}`;
    const hoisted = `node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    packages[hoisted] = { version, ...(meta.dev ? { dev: true } : {}), optional: true };
    added.push(`${name}@${version}`);
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added.length ? `Added ${added.length} optional entries:\n  ${added.join('\n  ')}` : 'Lock file already complete.',
);
