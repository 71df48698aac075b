import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load, registerAndLogin, startDatabase, startServer } from './support.js';

/** Throwaway: CPU profile of the Fastify server under /profile load; prints top self-time functions. */
async function main(): Promise<void> {
  let rps = 0;
  const database = await startDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'prof-'));
  const adapter = process.argv[2] ?? 'fastify';
  const path = process.argv[3] ?? '/profile';
  const server = await startServer(database.url, { HTTP_ADAPTER: adapter }, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
  try {
    const token = (await registerAndLogin(server.base, 'p@example.com')).accessToken;
    const result = await load(`${server.base}${path}`, { token, seconds: 6 });
    rps = result.rps;
    console.log(adapter, path, Math.round(result.rps), 'req/s');
  } finally {
    await server.stop();
    await database.stop();
  }
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  const profile = JSON.parse(readFileSync(join(dir, file as string), 'utf8')) as {
    nodes: Array<{
      id: number;
      callFrame: { functionName: string; url: string; lineNumber: number };
      hitCount: number;
    }>;
  };
  const self = new Map<string, number>();
  let total = 0;
  for (const node of profile.nodes) {
    const url = node.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/work\/main\//, '');
    const key = `${node.callFrame.functionName || '(anon)'} ${url}:${node.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + node.hitCount);
    total += node.hitCount;
  }
  // µs per request per function (samples are ~1 ms of CPU each... use share of wall time / rps)
  const perRequest = Object.fromEntries([...self.entries()].map(([key, hits]) => [key, ((hits / total) * 1e6) / rps]));
  (await import('node:fs')).writeFileSync(
    `/tmp/prof-${adapter}-${path.replace(/\//g, '_')}.json`,
    JSON.stringify(perRequest),
  );
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 45);
  for (const [key, hits] of top) console.log(((hits / total) * 100).toFixed(2).padStart(6), key);
  // Share by area
  const areas = new Map<string, number>();
  for (const [key, hits] of self) {
    const area = /dist\/src\/auth/.test(key)
      ? 'auth'
      : /@nestjs\/core/.test(key)
        ? 'nest-core'
        : /fastify|find-my-way|light-my|avvio/.test(key)
          ? 'fastify'
          : /express|router/.test(key)
            ? 'express'
            : /^\(garbage|\(idle|\(program/.test(key)
              ? key.split(' ')[0]
              : /node:/.test(key)
                ? 'node'
                : 'other';
    areas.set(area, (areas.get(area) ?? 0) + hits);
  }
  console.log(
    [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([a, h]) => `${a} ${((h / total) * 100).toFixed(1)}%`)
      .join(', '),
  );
}

void main();
