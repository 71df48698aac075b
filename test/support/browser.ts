import { existsSync } from 'node:fs';

/** The system Chromium: CHROMIUM_PATH, or the usual places (Debian's `chromium` package first). */
export function chromiumPath(): string | undefined {
  const candidates = [
    process.env.CHROMIUM_PATH,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
  ];
  return candidates.find((path): path is string => typeof path === 'string' && path !== '' && existsSync(path));
}

/**
 * Why the browser specs cannot run here, or null when they can. With CI=true a missing browser
 * is a failure (the caller fails a test with this reason); elsewhere the specs skip and say why.
 */
export function missingBrowserReason(): string | null {
  if (chromiumPath()) return null;
  return 'Chromium not found (set CHROMIUM_PATH, or install it: apt-get install -y --no-install-recommends chromium)';
}

interface Countable {
  count(): Promise<number>;
  textContent(): Promise<string | null>;
}

/**
 * Waits (up to 5 s) until the locator shows what is expected, then asserts it, so that a failure
 * says what was there instead. Jest has no web-first assertions of its own.
 */
export async function shows(
  locator: Countable,
  expected: { text?: string; containing?: string; count?: number },
): Promise<void> {
  const matches = async () => {
    if (expected.count !== undefined && (await locator.count()) !== expected.count) return false;
    if (expected.count === 0) return true;
    const text = (await locator.textContent().catch(() => null)) ?? '';
    if (expected.text !== undefined && text.trim() !== expected.text) return false;
    return expected.containing === undefined || text.includes(expected.containing);
  };
  const deadline = Date.now() + 5_000;
  while (!(await matches()) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 25));
  const count = await locator.count();
  const text = count > 0 ? (((await locator.textContent().catch(() => null)) ?? '').trim() as string) : '';
  if (expected.count !== undefined && count !== expected.count) {
    throw new Error(`expected ${expected.count} element(s), found ${count}`);
  }
  if (expected.text !== undefined && text !== expected.text)
    throw new Error(`expected text "${expected.text}", found "${text}"`);
  if (expected.containing !== undefined && !text.includes(expected.containing)) {
    throw new Error(`expected text containing "${expected.containing}", found "${text}"`);
  }
}
