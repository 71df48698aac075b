import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { chromiumPath, missingBrowserReason, shows } from './support/browser.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { launchNodeApp, type LaunchedApp } from './support/launch.js';
import { freePort } from './support/ports.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'dist/src/example/main.js');
const PASSWORD = 'correct horse battery';

const missing = missingBrowserReason();
if (missing && process.env.CI !== 'true') console.log(`Browser specs skipped: ${missing}`);

/** The built example app (its /account pages) in a real Chromium, as a person uses it. */
(missing && process.env.CI !== 'true' ? describe.skip : describe)('the account pages in Chromium', () => {
  let database: TestDatabase;
  let app: LaunchedApp;
  let base: string;
  let browser: Browser;
  let counter = 0;
  const email = () => `browser.${process.pid}.${(counter += 1)}@example.com`;

  beforeAll(async () => {
    if (missing) throw new Error(`CI=true and ${missing}`);
    await run('npm', ['run', 'build', '--silent'], { cwd: ROOT });
    database = await createTestDatabase();
    app = await launchNodeApp({
      main: MAIN,
      cwd: ROOT,
      env: { DATABASE_URL: database.url, JWT_SECRET: 'browser-secret-'.padEnd(48, 'x') },
      listening: /Listening on/,
    });
    // Chromium keeps Secure cookies on http://localhost (a secure context), not on other hosts.
    base = app.base.replace('127.0.0.1', 'localhost');
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await database?.drop();
  });

  async function signUp(context: BrowserContext, address: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${base}/account/sign-up`);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${base}/account`);
    await shows(page.locator('#email'), { text: address });
    return page;
  }

  async function signIn(context: BrowserContext, address: string, deviceName: string): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${base}/account/sign-in`);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Device name').fill(deviceName);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${base}/account`);
    return page;
  }

  const devices = (page: Page) => page.getByRole('list', { name: 'Signed-in devices' }).getByRole('listitem');

  it('signs up, lands signed in on the account page, and lists this device first, marked', async () => {
    const context = await browser.newContext();
    const address = email();
    const page = await signUp(context, address);
    await shows(devices(page), { count: 1 });
    await shows(devices(page).first(), { containing: 'This device' });
    // The tokens are in HttpOnly cookies with the specified attributes; no script can read them.
    const cookies = await context.cookies();
    const access = cookies.find((cookie) => cookie.name === '__Host-auth_access');
    const refresh = cookies.find((cookie) => cookie.name === '__Secure-auth_refresh');
    expect(access).toMatchObject({ path: '/', httpOnly: true, secure: true, sameSite: 'Lax' });
    expect(refresh).toMatchObject({ path: '/auth/refresh', httpOnly: true, secure: true, sameSite: 'Strict' });
    expect(await page.evaluate('document.cookie')).toBe('');
    await context.close();
  });

  it('shows a second browser as a second device; signing it out sends it to sign-in on its next action', async () => {
    const address = email();
    const laptop = await browser.newContext();
    const phone = await browser.newContext();
    const laptopPage = await signUp(laptop, address);
    const phonePage = await signIn(phone, address, 'Phone');
    await laptopPage.reload();
    await shows(devices(laptopPage), { count: 2 });
    await shows(devices(laptopPage).first(), { containing: 'This device' });
    const phoneItem = devices(laptopPage).filter({ hasText: 'Phone' });
    laptopPage.once('dialog', (dialog) => void dialog.accept());
    await phoneItem.getByRole('button', { name: /Sign out/ }).click();
    await shows(devices(laptopPage), { count: 1 });

    await phonePage.reload();
    await phonePage.waitForURL(/\/account\/sign-in\?ended=1$/);
    await shows(phonePage.getByRole('status'), { text: 'Your session has ended. Please sign in again.' });
    await laptop.close();
    await phone.close();
  });

  it('signs out all other devices from one', async () => {
    const address = email();
    const first = await browser.newContext();
    const second = await browser.newContext();
    const third = await browser.newContext();
    const firstPage = await signUp(first, address);
    const secondPage = await signIn(second, address, 'Second');
    await signIn(third, address, 'Third');
    await firstPage.reload();
    await shows(devices(firstPage), { count: 3 });
    await firstPage.getByRole('button', { name: 'Sign out all other devices' }).click();
    await shows(devices(firstPage), { count: 1 });
    await secondPage.reload();
    await secondPage.waitForURL(/\/account\/sign-in\?ended=1$/);
    await Promise.all([first.close(), second.close(), third.close()]);
  });

  it('shows an attacker-chosen device name as text, and runs nothing', async () => {
    const address = email();
    const owner = await browser.newContext();
    const attacker = await browser.newContext();
    const page = await signUp(owner, address);
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await signIn(attacker, address, '<img src=x onerror=alert(1)>');
    await page.reload();
    await shows(devices(page).filter({ hasText: '<img src=x onerror=alert(1)>' }), { count: 1 });
    expect(await page.locator('ul img').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await owner.close();
    await attacker.close();
  });

  it('refuses a page of another origin that posts to the API with the cookies: 403, nothing changes', async () => {
    const address = email();
    const context = await browser.newContext();
    const page = await signUp(context, address);
    const port = await freePort();
    // The other origin: a page whose form posts to logout-all (the browser sends the Lax cookie:
    // another port of localhost is the same site).
    const evil: Server = createServer((_request, response) => {
      response.setHeader('Content-Type', 'text/html');
      response.end(`<form method="post" action="${base}/auth/logout-all"><button>Win a prize</button></form>`);
    });
    await new Promise<void>((done) => evil.listen(port, '127.0.0.1', done));
    try {
      const evilPage = await context.newPage();
      await evilPage.goto(`http://localhost:${port}/`);
      await evilPage.getByRole('button', { name: 'Win a prize' }).click();
      await shows(evilPage.locator('body'), { containing: 'CSRF check failed' });
      // Still signed in.
      await page.reload();
      await shows(page.locator('#email'), { text: address });
      await shows(devices(page), { count: 1 });
    } finally {
      await new Promise((done) => evil.close(done));
      await context.close();
    }
  });
});
