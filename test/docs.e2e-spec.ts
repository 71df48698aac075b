import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const ROOT = resolve(import.meta.dirname, '..');
const DOCS = [
  'README.md',
  'CHANGELOG.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The text without fenced code blocks and inline code, where a `[x](y)` is not a link. */
function prose(markdown: string): string {
  let fence: string | null = null;
  return markdown
    .split('\n')
    .map((line) => {
      const opening = /^\s*(```|~~~)/.exec(line);
      if (opening) {
        if (fence === null) fence = opening[1];
        else if (line.trim().startsWith(fence)) fence = null;
        return '';
      }
      return fence === null ? line.replace(/`[^`\n]*`/g, '') : '';
    })
    .join('\n');
}

/** GitHub's anchors of a file's headings: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fence: string | null = null;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const opening = /^\s*(```|~~~)/.exec(line);
    if (opening) {
      if (fence === null) fence = opening[1];
      else if (line.trim().startsWith(fence)) fence = null;
      continue;
    }
    const heading = fence === null ? /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line) : null;
    if (!heading) continue;
    const slug = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[`*]/g, '')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug);
    seen.set(slug, (count ?? -1) + 1);
    result.add(count === undefined ? slug : `${slug}-${count + 1}`);
  }
  return result;
}

describe('the documentation', () => {
  it('has a README of at most 15,000 bytes, a docs index and a changelog', () => {
    expect(statSync(join(ROOT, 'README.md')).size).toBeLessThanOrEqual(15_000);
    expect(existsSync(join(ROOT, 'docs/README.md'))).toBe(true);
    expect(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')).toMatch(/^# Changelog\n[\s\S]*## \[Unreleased\]/);
  });

  it('names the package version in the changelog', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')).toContain(`## [${version}]`);
  });

  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    let links = 0;
    for (const name of DOCS) {
      const file = join(ROOT, name);
      for (const match of prose(readFileSync(file, 'utf8')).matchAll(
        /!?\[(?:[^\][]|\[[^\]]*\])*\]\(([^)\s]+)[^)]*\)/g,
      )) {
        const target = match[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        links += 1;
        const [path, anchor] = target.split('#');
        const destination = path ? resolve(dirname(file), path) : file;
        if (!existsSync(destination)) broken.push(`${name}: ${target} (no such file)`);
        else if (anchor && !(destination.endsWith('.md') && anchors(destination).has(anchor))) {
          broken.push(`${name}: ${target} (no such heading in ${relative(ROOT, destination)})`);
        }
      }
    }
    expect(links).toBeGreaterThan(50);
    expect(broken).toEqual([]);
  });
});
