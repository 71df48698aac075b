// npm run screenshots: the README's pictures of the account pages, taken in the system Chromium
// from the built example app on its embedded PostgreSQL (a throwaway directory): a user signs up
// on a laptop, signs in from a phone, and the sign-in page and the account page are captured.
// Needs Chromium (CHROMIUM_PATH, or Debian's `chromium` package) and `npm run build` first.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'docs/images');
const PASSWORD = 'correct horse battery';
const executablePath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (path) => path && existsSync(path),
);
if (!executablePath) throw new Error('Chromium not found: set CHROMIUM_PATH or apt-get install chromium');

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const workDir = mkdtempSync(join(tmpdir(), 'auth-screenshots-'));
chmodSync(workDir, 0o755); // the embedded PostgreSQL runs as another user when started as root
const port = await freePort();
const app = spawn(process.execPath, [join(ROOT, 'dist/src/example/main.js')], {
  cwd: workDir,
  env: {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PORT: String(port),
    EMBEDDED_DATABASE_PORT: String(await freePort()),
  },
});
await new Promise((done, fail) => {
  let output = '';
  app.stdout.on('data', (chunk) => {
    output += chunk;
    if (output.includes('Listening on')) done();
  });
  app.once('exit', (code) => fail(new Error(`the app exited with ${code}:\n${output}`)));
});

const base = `http://localhost:${port}`;
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
try {
  mkdirSync(OUT, { recursive: true });
  const viewport = { width: 720, height: 900 };
  const laptop = await browser.newContext({ viewport, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' });
  const page = await laptop.newPage();
  await page.goto(`${base}/account/sign-in`);
  await page.getByLabel('Email').fill('ada@example.com');
  await page.screenshot({ path: join(OUT, 'sign-in.png') });

  await page.goto(`${base}/account/sign-up`);
  await page.getByLabel('Email').fill('ada@example.com');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByLabel('Confirm password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${base}/account`);

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const phonePage = await phone.newPage();
  await phonePage.goto(`${base}/account/sign-in`);
  await phonePage.getByLabel('Email').fill('ada@example.com');
  await phonePage.getByLabel('Password').fill(PASSWORD);
  await phonePage.getByLabel('Device name').fill('Ada’s phone');
  await phonePage.getByRole('button', { name: 'Sign in', exact: true }).click();
  await phonePage.waitForURL(`${base}/account`);

  await page.reload();
  await page.getByRole('listitem').nth(1).waitFor();
  await page.screenshot({ path: join(OUT, 'account.png'), fullPage: true });
  console.log(`Screenshots written to ${OUT}`);
} finally {
  await browser.close();
  app.kill('SIGTERM');
  await new Promise((done) => app.once('exit', done));
  rmSync(workDir, { recursive: true, force: true });
}
