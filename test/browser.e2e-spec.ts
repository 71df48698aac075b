import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { renderSVG } from 'uqr';
import { chromiumPath, missingBrowserReason, shows } from './support/browser.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { launchNodeApp, type LaunchedApp } from './support/launch.js';
import { linkIn, TestMailServer } from './support/mail.js';
import { codeAt, wrongCodeAt } from './support/mfa.js';
import { freePort } from './support/ports.js';
import { startTestProvider, type TestProvider } from './support/oidc-provider.js';
import { createTestApp, type TestAppWithDatabase } from './support/test-app.js';
import {
  ACCOUNT_PAGES_OPTIONS,
  type ResolvedAccountPagesOptions,
} from '../src/auth/account-pages/account-pages.options.js';

const ROOT = resolve(import.meta.dirname, '..');
const MAIN = join(ROOT, 'dist/src/example/main.js');
const PASSWORD = 'correct horse battery';
/** The access tokens' lifetime on the app whose clock the specs move (seconds). */
const CLOCKED_TTL = 600;

const missing = missingBrowserReason();
if (missing && process.env.CI !== 'true') console.log(`Browser specs skipped: ${missing}`);

/**
 * The built example app (its /account pages; built by the global setup) in a real Chromium, as a
 * person uses it; for the specs about access-token expiry, the same module in this process, whose
 * clock they move.
 */
(missing && process.env.CI !== 'true' ? describe.skip : describe)('the account pages in Chromium', () => {
  let database: TestDatabase;
  let apps: LaunchedApp[] = [];
  let base: string;
  /**
   * The example app's module in this process, with the server's clock (AUTH_CLOCK) a FakeClock:
   * its access tokens expire when the spec moves that clock, not after a real wait. A built app
   * started as a process has no clock to inject.
   */
  let clocked: TestAppWithDatabase;
  let clockedBase: string;
  /** An OpenID Provider the clocked app signs in with (its login page: any password). */
  let provider: TestProvider;
  let browser: Browser;
  /** The apps' SMTP server: what a person would find in their mailbox. */
  let mail: TestMailServer;
  let counter = 0;
  const email = () => `browser.${process.pid}.${(counter += 1)}@example.com`;

  /** The built example app on the test database; its base URL as Chromium must use it. */
  async function launchExample(env: Record<string, string> = {}): Promise<string> {
    const app = await launchNodeApp({
      main: MAIN,
      cwd: ROOT,
      env: { DATABASE_URL: database.url, JWT_SECRET: 'browser-secret-'.padEnd(48, 'x'), SMTP_URL: mail.url, ...env },
      listening: /Listening on/,
    });
    apps.push(app);
    // Chromium keeps Secure cookies on http://localhost (a secure context), not on other hosts.
    return app.base.replace('127.0.0.1', 'localhost');
  }

  beforeAll(async () => {
    if (missing) throw new Error(`CI=true and ${missing}`);
    database = await createTestDatabase();
    mail = await TestMailServer.start();
    base = await launchExample();
    const pages: ResolvedAccountPagesOptions = {
      path: 'account',
      authPath: '/auth',
      appName: 'nest-jwt-revocation example',
      // The browser scripts as built for the launched app (in this process the module would look
      // for them beside src/auth, where only their TypeScript is).
      scriptsDir: join(ROOT, 'dist/src/browser'),
    };
    // Its public URL is where Chromium finds it: passkeys are bound to that origin (and rpId localhost).
    const clockedPort = await freePort();
    clockedBase = `http://localhost:${clockedPort}`;
    provider = await startTestProvider({ redirectUris: [`${clockedBase}/auth/oidc/test/callback`] });
    clocked = await createTestApp({
      config: {
        accessTokenTtl: CLOCKED_TTL,
        publicUrl: clockedBase,
        oidcProviders: [
          {
            id: 'test',
            name: 'Test ID',
            issuer: provider.issuer,
            clientId: provider.clientId,
            clientSecret: provider.clientSecret,
            trustEmailVerified: true,
          },
        ],
      },
      overrides: [[ACCOUNT_PAGES_OPTIONS, pages]],
    });
    await clocked.app.listen(clockedPort, '127.0.0.1');
    browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await Promise.all(apps.map((app) => app.stop()));
    apps = [];
    await clocked?.close();
    await provider?.close();
    await database?.drop();
    await mail?.down();
  });

  async function signUp(context: BrowserContext, address: string, at = base): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${at}/account/sign-up`);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByLabel('Confirm password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL(`${at}/account`);
    await shows(page.locator('#email'), { text: address });
    return page;
  }

  async function signIn(context: BrowserContext, address: string, deviceName: string, at = base): Promise<Page> {
    const page = await context.newPage();
    await page.goto(`${at}/account/sign-in`);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Device name').fill(deviceName);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${at}/account`);
    return page;
  }

  /** Signs out from the account page, which lands on the sign-in page. */
  async function signOut(page: Page): Promise<void> {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await page.waitForURL(/\/account\/sign-in\?signed-out=1$/);
  }

  /** The sign-in page's first step for an account with a second factor: the code is asked for next. */
  async function passwordStep(page: Page, address: string): Promise<void> {
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByLabel('Authentication code').waitFor();
  }

  /**
   * Turns on an authenticator app from the account page (of the clocked app, whose time the
   * codes are computed at), as a person would with the secret key the page shows; answers the
   * secret and the recovery codes shown. The clock then moves to the next 30-second step: the code
   * that turned the app on is spent for its step.
   */
  async function turnOnTwoFactor(page: Page): Promise<{ secret: string; recoveryCodes: string[] }> {
    const qrAnswer = page.waitForResponse((response) => new URL(response.url()).pathname === '/auth/mfa/totp/qr');
    await page.getByRole('button', { name: 'Set up authenticator app' }).click();
    const secretKey = page.getByLabel('Secret key');
    await secretKey.waitFor();
    const secret = await secretKey.inputValue();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    // The QR code is an inline <svg> (the CSP admits no other origin's image, and no data: URL).
    const qrCode = page.getByRole('img', { name: 'QR code for your authenticator app' });
    await shows(qrCode, { count: 1 });
    expect(await qrCode.evaluate((element) => [element.namespaceURI, element.localName])).toEqual([
      'http://www.w3.org/2000/svg',
      'svg',
    ]);
    // It is the picture of the otpauth URL that setup answered, whose secret is the one shown: the
    // client posted that URL (a cookie POST, with the transport header), and the page drew what
    // the server answered for it.
    const answer = await qrAnswer;
    const request = answer.request();
    expect(request.method()).toBe('POST');
    expect(await request.headerValue('x-auth-transport')).toBe('cookie');
    const { otpauthUrl } = request.postDataJSON() as { otpauthUrl: string };
    expect(new URL(otpauthUrl).searchParams.get('secret')).toBe(secret);
    expect(answer.headers()['content-type']).toMatch(/^image\/svg\+xml/);
    const drawn = await answer.text();
    expect(drawn).toBe(renderSVG(otpauthUrl, { border: 2 }));
    const pathOf = (svg: string) => /<path[^>]*\sd="([^"]+)"/.exec(svg)?.[1];
    expect(await qrCode.locator('path').getAttribute('d')).toBe(pathOf(drawn));
    // What turning it on does to the other devices is said beside the button.
    expect(await page.getByText('Turning it on signs out your other devices.').isVisible()).toBe(true);
    // The visible one (the re-authentication form has a field of that name too, hidden).
    await page.getByRole('textbox', { name: 'Authentication code' }).fill(codeAt(secret, clocked.clock.now()));
    await page.getByRole('button', { name: 'Turn on' }).click();
    const shown = page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem');
    await shows(shown, { count: 10 });
    const recoveryCodes = await shown.allTextContents();
    for (const code of recoveryCodes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
    await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is on. 10 recovery codes left.' });
    // The secret is gone from the page with the set-up.
    await shows(page.getByLabel('Secret key'), { count: 1 });
    expect(await page.getByLabel('Secret key').inputValue()).toBe('');
    await page.getByRole('button', { name: 'I have saved these codes' }).click();
    await shows(page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem'), { count: 0 });
    clocked.clock.advance(30);
    return { secret, recoveryCodes };
  }

  async function query(sql: string, params: unknown[]): Promise<Array<Record<string, unknown>>> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  }

  /**
   * A virtual authenticator for this tab (Chrome DevTools Protocol): a platform authenticator
   * (CTAP2, internal) with resident keys and user verification, present and verifying at once, as
   * a laptop's screen lock would.
   */
  async function virtualAuthenticator(
    page: Page,
    { verifiesUser = true } = {},
  ): Promise<{ cdp: CDPSession; authenticatorId: string }> {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: verifiesUser,
        isUserVerified: verifiesUser,
        automaticPresenceSimulation: true,
      },
    });
    return { cdp, authenticatorId };
  }

  /**
   * The virtual authenticator answers a conditional request at once, as if the person had picked
   * the passkey in autofill: the sign-in page's autofill request (its options, asked without an
   * email) is held here until `release`. `asked` resolves once the next one is held.
   */
  async function holdAutofill(page: Page): Promise<{ asked(): Promise<void>; release(): void }> {
    let held = 0;
    const waiters: Array<() => void> = [];
    const releases: Array<() => void> = [];
    await page.route('**/auth/passkeys/login/options', async (route) => {
      if ((route.request().postDataJSON() as { email?: string }).email) return route.continue();
      held += 1;
      for (const waiter of waiters.splice(0)) waiter();
      await new Promise<void>((release) => releases.push(release));
      await route.continue().catch(() => undefined); // its page may be gone
    });
    let seen = 0;
    return {
      async asked() {
        if (held <= seen) await new Promise<void>((done) => waiters.push(done));
        seen = held;
      },
      release() {
        for (const release of releases.splice(0)) release();
      },
    };
  }

  const passkeys = (page: Page) => page.getByRole('list', { name: 'Passkeys' }).getByRole('listitem');

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

  it('signs out everywhere: this tab, another tab and another browser all land on sign-in', async () => {
    const address = email();
    const laptop = await browser.newContext();
    const phone = await browser.newContext();
    const page = await signUp(laptop, address);
    const otherTab = await laptop.newPage();
    await otherTab.goto(`${base}/account`);
    await shows(otherTab.locator('#email'), { text: address });
    const phonePage = await signIn(phone, address, 'Phone');
    await page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await page.waitForURL(/\/account\/sign-in\?signed-out=1$/);
    await shows(page.getByRole('status'), { text: 'You are signed out.' });
    // The other tab hears it at once (BroadcastChannel), without a request of its own.
    await otherTab.waitForURL(/\/account\/sign-in\?signed-out=1$/);
    await phonePage.reload();
    await phonePage.waitForURL(/\/account\/sign-in\?ended=1$/);
    await laptop.close();
    await phone.close();
  });

  it('forgot password: the link in the mail sets a new password, and every signed-in browser lands on sign-in', async () => {
    const address = email();
    const laptop = await browser.newContext();
    const phone = await browser.newContext();
    const mailbox = await browser.newContext();
    try {
      const laptopPage = await signUp(laptop, address);
      const phonePage = await signIn(phone, address, 'Phone');

      const page = await mailbox.newPage();
      await page.goto(`${base}/account/sign-in`);
      await page.getByRole('link', { name: 'Forgot password?' }).click();
      await page.waitForURL(`${base}/account/forgot-password`);
      await page.getByLabel('Email').fill(address.toUpperCase());
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await shows(page.getByRole('status'), {
        text: 'If an account exists for this email, a link to reset its password is on its way',
      });

      // The mail, captured by the SMTP server; its link opened as a person would.
      const link = linkIn(await mail.nth(address, 'reset-password'), 'reset-password');
      expect(link.startsWith(`${base}/account/reset-password?token=`)).toBe(true);
      await page.goto(link);
      // The token leaves the address bar at once.
      await page.waitForURL(`${base}/account/reset-password`);
      await page.getByLabel('New password').fill('a brand new passphrase');
      await page.getByLabel('Confirm password').fill('a different passphrase');
      await page.getByRole('button', { name: 'Set new password' }).click();
      await shows(page.getByRole('status'), { text: 'The two passwords differ.' });
      await page.getByLabel('Confirm password').fill('a brand new passphrase');
      await page.getByRole('button', { name: 'Set new password' }).click();
      await page.waitForURL(`${base}/account/sign-in?reset=1`);
      await shows(page.getByRole('status'), {
        text: 'Your password has been changed and you are signed out everywhere. Sign in with your new password.',
      });

      // Both sessions from before are over.
      for (const signedIn of [laptopPage, phonePage]) {
        await signedIn.reload();
        await signedIn.waitForURL(/\/account\/sign-in\?ended=1$/);
      }
      // The same link a second time.
      const again = await mailbox.newPage();
      await again.goto(link);
      await again.getByLabel('New password').fill('yet another passphrase');
      await again.getByLabel('Confirm password').fill('yet another passphrase');
      await again.getByRole('button', { name: 'Set new password' }).click();
      await shows(again.getByRole('status'), { text: 'This link has expired or was already used. Ask for a new one.' });
      // The new password works.
      await page.getByLabel('Email').fill(address);
      await page.getByLabel('Password').fill('a brand new passphrase');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${base}/account`);
      await shows(page.locator('#email'), { text: address });
    } finally {
      await Promise.all([laptop.close(), phone.close(), mailbox.close()]);
    }
  });

  it('shows whether the email is verified; the link from the mail (sent again on request) verifies it', async () => {
    const address = email();
    const context = await browser.newContext();
    try {
      const page = await signUp(context, address);
      await shows(page.locator('#email-status'), { text: 'Email not verified' });
      await page.getByRole('button', { name: 'Resend verification email' }).click();
      await shows(page.getByRole('status'), { text: `A new verification link is on its way to ${address}.` });
      // The second mail (the first came with the registration, and no longer works).
      const first = linkIn(await mail.nth(address, 'verify-email', 1), 'verify-email');
      const second = linkIn(await mail.nth(address, 'verify-email', 2), 'verify-email');
      const landing = await context.newPage();
      await landing.goto(first);
      // Nothing happens until the person confirms (a mail scanner opening the link confirms nothing).
      await shows(landing.getByRole('status'), { text: '' });
      await landing.getByRole('button', { name: 'Confirm email address' }).click();
      await shows(landing.getByRole('status'), {
        text: 'This link has expired or was already used. Sign in and ask for a new one from your account page.',
      });
      await landing.goto(second);
      await landing.getByRole('button', { name: 'Confirm email address' }).click();
      await shows(landing.getByRole('status'), { text: 'Your email address is confirmed.' });
      await page.reload();
      await shows(page.locator('#email-status'), { text: 'Email verified' });
      await shows(page.getByRole('button', { name: 'Resend verification email' }), { count: 0 });
    } finally {
      await context.close();
    }
  });

  it('"This wasn\'t me": the link of a new-device alert, on a click, ends every session and mails a reset link; used again, it is refused', async () => {
    // An instance behind a "proxy" (it believes X-Forwarded-For from loopback): the sign-ins over
    // HTTP and the laptop's Chromium each come from the network they name.
    const at = await launchExample({ TRUST_PROXY: 'loopback' });
    const address = email();
    const LAPTOP_IP = '203.0.113.10';
    const post = (path: string, body: unknown, ip: string) =>
      fetch(`${at}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        body: JSON.stringify(body),
      });
    const signInOverHttp = async (deviceName: string, ip: string): Promise<string> => {
      const response = await post('/auth/login', { email: address, password: PASSWORD, deviceName }, ip);
      expect(response.status).toBe(200);
      return ((await response.json()) as { accessToken: string }).accessToken;
    };
    const statusOf = async (accessToken: string) =>
      (await fetch(`${at}/auth/me`, { headers: { authorization: `Bearer ${accessToken}` } })).status;
    const laptop = await browser.newContext({ extraHTTPHeaders: { 'X-Forwarded-For': LAPTOP_IP } });
    try {
      expect((await post('/auth/register', { email: address, password: PASSWORD }, LAPTOP_IP)).status).toBe(201);
      const laptopToken = await signInOverHttp('Laptop', LAPTOP_IP);
      // The same device and network in Chromium: known, no alert; this browser holds a session.
      const accountPage = await signIn(laptop, address, 'Laptop', at);
      // Someone else, elsewhere.
      const thiefToken = await signInOverHttp('Unknown phone', '192.0.2.66');

      const alert = await mail.nth(address, 'secure', 1, 10_000);
      expect(alert.subject).toMatch(/^New sign-in to your account/);
      expect(alert.text).toContain('Device (as it named itself): “Unknown phone”');
      const link = linkIn(alert, 'secure');
      expect(link).toMatch(new RegExp(`^${at}/account/secure\\?token=[A-Za-z0-9_-]{43}$`));

      const page = await laptop.newPage();
      const served = await page.goto(link);
      // The headers of the other pages: the token in the URL is never sent on as a Referer.
      expect(served?.headers()).toMatchObject({
        'content-security-policy': expect.stringContaining("default-src 'none'; script-src 'self'"),
        'referrer-policy': 'no-referrer',
        'cache-control': 'no-store',
      });
      // The token leaves the address bar at once.
      await page.waitForURL(`${at}/account/secure`);
      expect(page.url()).toBe(`${at}/account/secure`);
      await shows(page.getByRole('heading', { name: 'Secure your account', level: 1 }), { count: 1 });
      await shows(page.getByText('this signs you out on every device'), {
        containing: 'emails you a link to set a new password',
      });
      // Nothing happens on load (a mail scanner opening the link secures nothing).
      await page.waitForLoadState('networkidle');
      await shows(page.getByRole('status'), { text: '' });
      expect(await statusOf(laptopToken)).toBe(200);
      expect(page.url()).toBe(`${at}/account/secure`);

      await page.getByRole('button', { name: 'Secure my account', exact: true }).click();
      await shows(page.getByRole('status'), {
        text: 'Your account is secured: every session has ended, on every device. A link to set a new password is on its way to your email address.',
      });
      await shows(page.getByRole('button', { name: 'Secure my account' }), { count: 0 });
      // This browser's session ended with the others: its account tab hears it.
      await accountPage.waitForURL(/\/account\/sign-in\?ended=1$/);
      await shows(accountPage.getByRole('status'), { text: 'Your session has ended. Please sign in again.' });
      // Over HTTP: the laptop's and the thief's sessions are over; the reset link is in the mailbox.
      expect(await statusOf(laptopToken)).toBe(401);
      expect(await statusOf(thiefToken)).toBe(401);
      const reset = await mail.nth(address, 'reset-password', 1, 10_000);
      expect(reset.subject).toMatch(/^Reset your password/);
      expect(linkIn(reset, 'reset-password').startsWith(`${at}/account/reset-password?token=`)).toBe(true);

      // The same link again: refused, with the ways that remain.
      const again = await laptop.newPage();
      await again.goto(link);
      await again.waitForURL(`${at}/account/secure`);
      await shows(again.getByRole('link', { name: 'Forgot password?' }), { count: 0 });
      await again.getByRole('button', { name: 'Secure my account', exact: true }).click();
      await shows(again.getByRole('status'), {
        text: 'This link has expired, was already used, or a newer alert replaced it. Sign in and change your password from your account page, or ask for a reset link on the forgot password page.',
      });
      await shows(again.getByRole('link', { name: 'Forgot password?' }), { count: 1 });
      expect(await again.getByRole('link', { name: 'Forgot password?' }).getAttribute('href')).toBe(
        '/account/forgot-password',
      );
      await shows(again.getByRole('link', { name: 'Sign in' }), { count: 1 });
      // Only the one alert was sent, and only the one reset link.
      expect(mail.to(address, 'secure')).toHaveLength(1);
      expect(mail.to(address, 'reset-password')).toHaveLength(1);
    } finally {
      await laptop.close();
    }
  }, 90_000);

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

  const activity = (page: Page) => page.getByRole('list', { name: 'Recent activity' }).getByRole('listitem');

  /** The entries of the recent activity that say exactly this. */
  const entries = (page: Page, what: string) => activity(page).filter({ has: page.getByText(what, { exact: true }) });

  it('recent activity: this sign-in marked, failures in words, Show more for older entries, device names as text', async () => {
    const address = email();
    const hostile = '<img src=x onerror=alert(1)>';
    const context = await browser.newContext();
    const dialogs: string[] = [];
    context.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    try {
      // Older events, over HTTP (the clocked app believes X-Forwarded-For from loopback): the
      // account, a sign-in elsewhere under an attacker-chosen device name, then wrong passwords
      // from 20 addresses (one each: no throttle).
      await clocked.http
        .post('/auth/register')
        .set('X-Forwarded-For', '203.0.113.9')
        .send({ email: address, password: PASSWORD })
        .expect(201);
      await clocked.http
        .post('/auth/login')
        .set('X-Forwarded-For', '203.0.113.10')
        .send({ email: address, password: PASSWORD, deviceName: hostile })
        .expect(200);
      for (let n = 1; n <= 20; n += 1) {
        await clocked.http
          .post('/auth/login')
          .set('X-Forwarded-For', `198.51.100.${n}`)
          .send({ email: address, password: 'not the password' })
          .expect(401);
      }
      const page = await signIn(context, address, 'Work laptop', clockedBase);
      await shows(page.getByRole('heading', { name: 'Recent activity', level: 2 }), { count: 1 });
      // The newest 20: this sign-in, marked, with its device name; the failures in words, with their addresses.
      await shows(activity(page), { count: 20 });
      await shows(entries(page, 'Signed in'), { count: 1 });
      await shows(entries(page, 'Signed in'), { containing: 'This device' });
      await shows(entries(page, 'Signed in'), { containing: 'Work laptop' });
      await shows(entries(page, 'Failed sign-in (wrong password)').first(), { containing: 'IP 198.51.100.20' });
      expect(await entries(page, 'Failed sign-in (wrong password)').first().textContent()).not.toContain('This device');
      await shows(entries(page, 'Account created'), { count: 0 });

      // Older ones on request, after those shown; the last page has no Show more.
      await page.getByRole('button', { name: 'Show more' }).click();
      await shows(entries(page, 'Account created'), { count: 1 });
      expect(await activity(page).count()).toBeGreaterThan(20);
      await shows(entries(page, 'Failed sign-in (wrong password)'), { count: 20 });
      await shows(page.getByRole('button', { name: 'Show more' }), { count: 0 });
      expect((await activity(page).last().textContent()) ?? '').toContain('Account created');
      // The other sign-in's device name is text: no image, no script run.
      const elsewhere = entries(page, 'Signed in').filter({ hasText: hostile });
      await shows(elsewhere, { count: 1 });
      await shows(elsewhere, { containing: 'IP 203.0.113.10' });
      expect(await page.getByRole('list', { name: 'Recent activity' }).getByRole('img').count()).toBe(0);

      // A change made on the page shows at once, at the top (the list starts again from the newest).
      await page.getByLabel('Current password').fill(PASSWORD);
      await page.getByLabel('New password').fill('a new password 2');
      await page.getByRole('button', { name: 'Change password' }).click();
      await shows(page.getByRole('status'), { text: 'Password changed. Your other devices were signed out.' });
      await shows(entries(page, 'Password changed'), { count: 1 });
      await shows(entries(page, 'Password changed'), { containing: 'This device' });
      await shows(entries(page, 'Signed out (password changed)'), { count: 1 });
      await shows(activity(page), { count: 20 });
      await shows(page.getByRole('button', { name: 'Show more' }), { count: 1 });
      expect(dialogs).toEqual([]);
    } finally {
      await context.close();
    }
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

  /**
   * The access token's expiry, without waiting for it: the server's clock moves past it, the
   * tabs' clocks (Date, timers) by as much, and the browser drops the access cookie as Chromium
   * does at its Max-Age (on its own clock, which no test can move).
   */
  async function pastAccessTokenExpiry(context: BrowserContext): Promise<void> {
    clocked.clock.advance(CLOCKED_TTL + 1);
    await context.clock.fastForward((CLOCKED_TTL + 1) * 1000);
    await context.clearCookies({ name: '__Host-auth_access' });
  }

  it('keeps working past access-token expiry through silent refresh, with two tabs refreshing at the same moment', async () => {
    const context = await browser.newContext();
    try {
      // Before any page: the tabs' time is the one the spec moves.
      await context.clock.install();
      const address = email();
      const first = await signUp(context, address, clockedBase);
      const second = await context.newPage();
      await second.goto(`${clockedBase}/account`);
      await shows(second.locator('#email'), { text: address });
      const refreshes: number[] = [];
      context.on('request', (request) => {
        if (new URL(request.url()).pathname === '/auth/refresh') refreshes[refreshes.length - 1] += 1;
      });
      for (let round = 0; round < 2; round += 1) {
        refreshes.push(0);
        // Past the access token's expiry: both tabs need a refresh, at the same moment.
        await pastAccessTokenExpiry(context);
        await Promise.all([first.reload(), second.reload()]);
        for (const page of [first, second]) {
          await shows(page.locator('#email'), { text: address });
          await shows(devices(page), { count: 1 });
          expect(page.url()).toBe(`${clockedBase}/account`);
        }
      }
      // Each time, the tabs refreshed (one of them at least; the other may find it done).
      expect(refreshes.map((count) => count > 0)).toEqual([true, true]);
      // One session throughout: never taken for a stolen refresh token.
      const [session] = await clocked.dataSource.query(
        'SELECT s.revoked_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1',
        [address],
      );
      expect(session.revoked_at).toBeNull();
    } finally {
      await context.close();
    }
  });

  it('gives the host’s own API calls the same session: on a 401 for an expired token it refreshes once and retries once', async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      // The account page's own sections have loaded: only the host's call is watched below.
      await page.waitForLoadState('networkidle');
      // The client believes the token still valid (as with a tab that slept, or a browser clock
      // running behind), so the first answer is a 401: first 'Token has expired' for the cookie the
      // browser still sends (only the server's clock has moved), then 'Missing bearer token' once
      // the browser has dropped the expired cookie.
      for (const dropCookie of [false, true]) {
        clocked.clock.advance(CLOCKED_TTL + 1);
        if (dropCookie) await context.clearCookies({ name: '__Host-auth_access' });
        const result = (await page.evaluate(`(async () => {
          const { createAuthClient } = await import('/account/assets/client.js');
          localStorage.setItem('nest-jwt-revocation:access-expires-at', String(Date.now() + 3600000));
          const client = createAuthClient();
          const seen = [];
          const realFetch = window.fetch;
          window.fetch = async (input, init) => {
            const response = await realFetch(input, init);
            let seenAs = new URL(String(input), location.href).pathname + ' ' + response.status;
            if (response.status === 401) seenAs += ' ' + (await response.clone().json()).message;
            seen.push(seenAs);
            return response;
          };
          const response = await client.fetch('/profile');
          window.fetch = realFetch;
          return { status: response.status, body: await response.json(), seen };
        })()`)) as { status: number; body: { userId: string }; seen: string[] };
        expect(result.seen).toEqual([
          `/profile 401 ${dropCookie ? 'Missing bearer token' : 'Token has expired'}`,
          '/auth/refresh 200',
          '/profile 200',
        ]);
        expect(result.status).toBe(200);
      }
    } finally {
      await context.close();
    }
  });

  it('answers a visitor who never signed in with the 401 itself: no refresh, no "session ended" in other tabs', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/account/sign-in`);
    const result = (await page.evaluate(`(async () => {
      const { createAuthClient } = await import('/account/assets/client.js');
      const client = createAuthClient();
      const heard = [];
      client.onSignedOut((reason) => heard.push(reason));
      const response = await client.fetch('/profile');
      return { status: response.status, heard, signedIn: client.isSignedIn() };
    })()`)) as { status: number; heard: string[]; signedIn: boolean };
    expect(result).toEqual({ status: 401, heard: [], signedIn: false });
    await context.close();
  });

  it('changes the password (other devices signed out) and deletes the account, each confirmed', async () => {
    const address = email();
    const main = await browser.newContext();
    const other = await browser.newContext();
    const page = await signUp(main, address);
    const otherPage = await signIn(other, address, 'Other');
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByLabel('New password').fill('a new password 2');
    await page.getByRole('button', { name: 'Change password' }).click();
    await shows(page.getByRole('status'), { text: 'Password changed. Your other devices were signed out.' });
    await shows(devices(page), { count: 1 });
    await otherPage.reload();
    await otherPage.waitForURL(/\/account\/sign-in\?ended=1$/);

    await page.getByLabel('Password to confirm').fill('not the password');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete account' }).click();
    await shows(page.getByRole('status'), { text: 'Current password is incorrect' });
    await page.getByLabel('Password to confirm').fill('a new password 2');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete account' }).click();
    await page.waitForURL(/\/account\/sign-in\?signed-out=1$/);
    expect(await query('SELECT 1 FROM users WHERE email = $1', [address])).toEqual([]);
    await main.close();
    await other.close();
  });

  it('says why a sign-in failed: wrong credentials, too many attempts (with the wait)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/account/sign-in`);
    const address = email();
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await shows(page.getByRole('status'), { text: 'Wrong email or password.' });
    for (let attempt = 0; attempt < 5; attempt += 1)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await shows(page.getByRole('status'), { containing: 'Too many attempts. Try again in ' });
    await context.close();
  });

  it('says so when the account is suspended, once the password is right', async () => {
    const context = await browser.newContext();
    const address = email();
    const page = await signUp(context, address);
    await query(`UPDATE users SET suspended_until = now() + interval '1 hour' WHERE email = $1`, [address]);
    await page.goto(`${base}/account/sign-in`);
    await page.getByLabel('Email').fill(address);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await shows(page.getByRole('status'), { containing: 'This account is suspended. Account suspended until ' });
    await context.close();
  });

  it('two-factor authentication: set up from the account page (other browsers signed out), then a sign-in asks for a code, or a recovery code', async () => {
    const context = await browser.newContext();
    const other = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is off.' });
      // Another browser, signed in with the password before the app is on.
      const phone = await signIn(other, address, 'Phone', clockedBase);
      await page.reload();
      await shows(devices(page), { count: 2 });
      const { secret, recoveryCodes } = await turnOnTwoFactor(page);
      expect(new Set(recoveryCodes).size).toBe(10);
      // Turning it on signed the other browser out (this one's list shows it at once); this one stays.
      await shows(devices(page), { count: 1 });
      await shows(devices(page).first(), { containing: 'This device' });
      await phone.reload();
      await phone.waitForURL(/\/account\/sign-in\?ended=1$/);
      await page.reload();
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is on. 10 recovery codes left.' });

      // Password, then a code from the app: a wrong one is said, the right one signs in.
      await signOut(page);
      await passwordStep(page, address);
      // The password alone set no cookie: nothing is signed in before the second step.
      expect((await context.cookies()).map((cookie) => cookie.name)).toEqual([]);
      await page.getByLabel('Authentication code').fill(wrongCodeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Verify' }).click();
      await shows(page.getByRole('status'), { text: 'Invalid code' });
      await page.getByLabel('Authentication code').fill(codeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#email'), { text: address });
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is on. 10 recovery codes left.' });

      // Password, then a recovery code instead (and back and forth between the two).
      await signOut(page);
      await passwordStep(page, address);
      await page.getByRole('button', { name: 'Use a recovery code' }).click();
      await page.getByRole('button', { name: 'Use your authenticator app' }).click();
      await page.getByLabel('Authentication code').waitFor();
      await page.getByRole('button', { name: 'Use a recovery code' }).click();
      await page.getByLabel('Recovery code').fill(recoveryCodes[0]);
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is on. 9 recovery codes left.' });
      expect(await page.evaluate('document.cookie')).toBe('');
    } finally {
      await Promise.all([context.close(), other.close()]);
    }
  });

  it('two-factor authentication: a second step that took too long goes back to the password', async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      const { secret } = await turnOnTwoFactor(page);
      await signOut(page);
      await passwordStep(page, address);
      // The mfaToken lives 5 minutes.
      clocked.clock.advance(5 * 60 + 1);
      await page.getByLabel('Authentication code').fill(codeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Verify' }).click();
      await shows(page.getByRole('status'), {
        text: 'This sign-in timed out or had too many wrong codes. Enter your password again.',
      });
      await shows(page.getByRole('button', { name: 'Sign in', exact: true }), { count: 1 });
      expect(await page.getByLabel('Email').inputValue()).toBe(address);
      expect(await page.getByLabel('Password').inputValue()).toBe('');
      await passwordStep(page, address);
      await page.getByLabel('Authentication code').fill(codeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#email'), { text: address });
    } finally {
      await context.close();
    }
  });

  it('two-factor authentication: turning it off, confirmed, asks for the password again once the sign-in is over 10 minutes old', async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      await turnOnTwoFactor(page);
      // Past recentAuthMaxAge (600 s; the access token expires too, and is refreshed on the way:
      // a refresh is no re-authentication).
      clocked.clock.advance(601);
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.accept();
      });
      await page.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
      // The password is asked for (the field shown and focused, with why).
      await page.getByLabel('Password', { exact: true }).waitFor();
      expect(await page.getByText('For your security, enter your password again to continue.').isVisible()).toBe(true);
      expect(await page.evaluate('document.activeElement.id')).toBe('reauth-password');
      await page.getByLabel('Password', { exact: true }).fill('not the password');
      await page.getByRole('button', { name: 'Confirm' }).click();
      await shows(page.getByRole('status'), { text: 'Current password is incorrect' });
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is on. 10 recovery codes left.' });
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Confirm' }).click();
      // The same change runs again, without a second confirmation.
      await shows(page.getByRole('status'), { text: 'Two-factor authentication is off.' });
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is off.' });
      await shows(page.getByRole('button', { name: 'Confirm' }), { count: 0 });
      expect(dialogs).toEqual(['Turn off two-factor authentication? Signing in will need only your password.']);
      // The password alone signs in again.
      await signOut(page);
      await page.getByLabel('Email').fill(address);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.getByRole('button', { name: 'Set up authenticator app' }), { count: 1 });
    } finally {
      await context.close();
    }
  });

  it('two-factor authentication: a session signed in with the password alone is asked for a code (not the password) before changing it', async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      const { secret } = await turnOnTwoFactor(page);
      // The clocked app has a database of its own.
      const [{ id: userId }] = (await clocked.dataSource.query('SELECT id FROM users WHERE email = $1', [
        address,
      ])) as Array<{ id: string }>;
      // A session that has shown only the password (opened before the app was on, by a race or
      // before 0.4): made so by hand.
      const passwordOnly = () =>
        clocked.dataSource.query(`UPDATE sessions SET amr = '{pwd}' WHERE user_id = $1`, [userId]);
      const codeField = page.getByRole('textbox', { name: 'Authentication code' });
      const passwordField = page.getByLabel('Password', { exact: true });
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.accept();
      });

      // New recovery codes: the sign-in is recent, but the session has not shown the app, so a
      // code is asked for, and no password would do.
      await passwordOnly();
      await page.getByRole('button', { name: 'Get new recovery codes' }).click();
      await codeField.waitFor();
      expect(await page.evaluate('document.activeElement.id')).toBe('reauth-code');
      await shows(page.locator('#reauth-code-hint'), {
        text: 'This device signed in without your authenticator app. To continue, enter the code the app shows.',
      });
      expect(await passwordField.isVisible()).toBe(false);
      await shows(page.getByRole('button', { name: 'Use your password instead' }), { count: 0 });
      await codeField.fill(codeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Confirm' }).click();
      await shows(page.getByRole('status'), { text: 'New recovery codes: the old ones no longer work.' });
      await shows(page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem'), { count: 10 });
      await page.getByRole('button', { name: 'I have saved these codes' }).click();
      await shows(page.getByRole('button', { name: 'Confirm' }), { count: 0 });
      clocked.clock.advance(30);

      // Turning it off, the sign-in also too old: the password is asked for first (a code would
      // do, when the app is on), then, the session still not having shown the app, a code.
      await passwordOnly();
      clocked.clock.advance(601);
      await page.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
      await passwordField.waitFor();
      await shows(page.getByRole('button', { name: 'Use an authentication code instead' }), { count: 1 });
      await passwordField.fill(PASSWORD);
      await page.getByRole('button', { name: 'Confirm' }).click();
      await codeField.waitFor();
      expect(await passwordField.isVisible()).toBe(false);
      await codeField.fill(wrongCodeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Confirm' }).click();
      await shows(page.getByRole('status'), { text: 'Invalid code' });
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is on. 10 recovery codes left.' });
      await codeField.fill(codeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Confirm' }).click();
      // The same change runs again, without a second confirmation.
      await shows(page.getByRole('status'), { text: 'Two-factor authentication is off.' });
      await shows(page.locator('#mfa-status'), { text: 'Two-factor authentication is off.' });
      await shows(page.getByRole('button', { name: 'Confirm' }), { count: 0 });
      expect(dialogs).toEqual(['Turn off two-factor authentication? Signing in will need only your password.']);
    } finally {
      await context.close();
    }
  });

  it('two-factor authentication: an old sign-in can be confirmed with a code instead of the password', async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      const { secret } = await turnOnTwoFactor(page);
      clocked.clock.advance(601);
      await page.getByRole('button', { name: 'Get new recovery codes' }).click();
      await page.getByLabel('Password', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Use an authentication code instead' }).click();
      const codeField = page.getByRole('textbox', { name: 'Authentication code' });
      await codeField.waitFor();
      expect(await page.evaluate('document.activeElement.id')).toBe('reauth-code');
      await shows(page.locator('#reauth-code-hint'), {
        text: 'For your security, enter the code your authenticator app shows to continue.',
      });
      // And back.
      await page.getByRole('button', { name: 'Use your password instead' }).click();
      await page.getByLabel('Password', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Use an authentication code instead' }).click();
      await codeField.fill(codeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Confirm' }).click();
      await shows(page.getByRole('status'), { text: 'New recovery codes: the old ones no longer work.' });
      await shows(page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem'), { count: 10 });
    } finally {
      await context.close();
    }
  });

  it('passkeys: one added on the account page signs in with the passkey button and through autofill; renamed, then removed', async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address);
      const { cdp, authenticatorId } = await virtualAuthenticator(page);
      await shows(passkeys(page), { count: 0 });
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await shows(passkeys(page), { count: 1 });
      await shows(passkeys(page).locator('.name'), { text: 'Passkey' });
      await shows(passkeys(page).locator('.meta'), { containing: 'never used' });
      // A discoverable credential (resident key) for this site, made on the device.
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);
      expect(credentials[0]).toMatchObject({ isResidentCredential: true, rpId: 'localhost' });

      await passkeys(page).getByRole('button', { name: 'Rename' }).click();
      await page.getByLabel('Passkey name').fill('Work laptop');
      await page.getByRole('button', { name: 'Save' }).click();
      await shows(passkeys(page).locator('.name'), { text: 'Work laptop' });

      // What the page asks of navigator.credentials.get(): its mediation, recorded (init scripts run
      // before the page's own, whatever its CSP).
      const mediations: string[] = [];
      await page.exposeFunction('recordMediation', (mediation: string) => mediations.push(mediation));
      await page.addInitScript({
        content: `{
          const container = navigator.credentials;
          const get = container.get.bind(container);
          container.get = (options) => {
            window.recordMediation(options?.mediation ?? 'optional');
            return get(options);
          };
        }`,
      });
      const autofill = await holdAutofill(page);

      // The passkey button (with the email typed: that account's passkeys): the browser asks, the
      // authenticator answers, signed in. The pending autofill request steps aside for it.
      await signOut(page);
      await autofill.asked();
      await page.getByLabel('Email').fill(address);
      const answer = page.waitForResponse((response) => new URL(response.url()).pathname === '/auth/passkeys/login');
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      expect((await answer).status()).toBe(200);
      await page.waitForURL(`${base}/account`);
      await shows(page.locator('#email'), { text: address });
      await shows(passkeys(page).locator('.meta'), { containing: 'last used' });
      expect(mediations).toEqual(['optional']);

      // Autofill: the email field offers passkeys; the page has a conditional request pending from
      // its start, which signs in once the passkey is picked (here: once the held options are let go).
      await signOut(page);
      const emailField = page.getByLabel('Email');
      expect(await emailField.getAttribute('autocomplete')).toBe('username webauthn');
      await autofill.asked();
      await emailField.focus();
      await new Promise((done) => setTimeout(done, 300));
      expect(new URL(page.url()).pathname).toBe('/account/sign-in');
      const autofilled = page.waitForResponse(
        (response) => new URL(response.url()).pathname === '/auth/passkeys/login',
      );
      autofill.release();
      expect((await autofilled).status()).toBe(200);
      await page.waitForURL(`${base}/account`);
      await shows(page.locator('#email'), { text: address });
      expect(mediations).toEqual(['optional', 'conditional']);

      // Removed, confirmed (the sign-in is recent: no re-authentication asked).
      page.once('dialog', (dialog) => void dialog.accept());
      await passkeys(page).getByRole('button', { name: 'Remove' }).click();
      await shows(passkeys(page), { count: 0 });
      expect(
        await query('SELECT count(*)::int AS n FROM passkeys p JOIN users u ON u.id = p.user_id WHERE u.email = $1', [
          address,
        ]),
      ).toEqual([{ n: 0 }]);
    } finally {
      await context.close();
    }
  });

  it('passkeys: one is the second step after the password, and confirms an old sign-in before a passkey is removed', async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      await virtualAuthenticator(page);
      await turnOnTwoFactor(page);
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await shows(passkeys(page), { count: 1 });
      const autofill = await holdAutofill(page);

      // The password, then the passkey instead of a code from the app.
      await signOut(page);
      await passwordStep(page, address);
      const second = page.waitForResponse((response) => new URL(response.url()).pathname === '/auth/login/mfa');
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      expect((await second).status()).toBe(200);
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#email'), { text: address });

      // Over 10 minutes later, removing it asks for a re-authentication: the passkey does.
      clocked.clock.advance(601);
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.accept();
      });
      await passkeys(page).getByRole('button', { name: 'Remove' }).click();
      await page.getByLabel('Password', { exact: true }).waitFor();
      const reauthenticated = page.waitForResponse(
        (response) => new URL(response.url()).pathname === '/auth/reauthenticate',
      );
      await page.getByRole('button', { name: 'Use a passkey instead' }).click();
      expect((await reauthenticated).status()).toBe(200);
      // The removal runs again, without a second confirmation.
      await shows(passkeys(page), { count: 0 });
      expect(dialogs).toEqual(['Remove the passkey “Passkey”? It will no longer sign you in.']);
      await shows(page.getByRole('button', { name: 'Confirm' }), { count: 0 });
      autofill.release();
    } finally {
      await context.close();
    }
  });

  it("passkeys: one that does not verify the user is followed by the app's code; one the server refuses is said so", async () => {
    const context = await browser.newContext();
    try {
      const address = email();
      const page = await signUp(context, address, clockedBase);
      // A security key without a PIN or biometrics: it proves presence, not who is there.
      const { cdp, authenticatorId } = await virtualAuthenticator(page, { verifiesUser: false });
      const { secret } = await turnOnTwoFactor(page);
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await shows(passkeys(page), { count: 1 });
      // Chromium offers no passkey autofill with only such a key, so the sign-in page starts no
      // conditional request that the virtual authenticator would answer at once.
      expect(await page.evaluate('PublicKeyCredential.isConditionalMediationAvailable()')).toBe(false);

      // The passkey is the first factor only: the app's code is asked for next, and a passkey is
      // not offered again as the second.
      await signOut(page);
      await page.getByLabel('Email').fill(address);
      const first = page.waitForResponse((response) => new URL(response.url()).pathname === '/auth/passkeys/login');
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      expect((await first).status()).toBe(200);
      const codeField = page.getByLabel('Authentication code');
      await codeField.waitFor();
      expect(new URL(page.url()).pathname).toBe('/account/sign-in');
      expect(await page.getByRole('button', { name: 'Use a passkey' }).isVisible()).toBe(false);
      await codeField.fill(codeAt(secret, clocked.clock.now()));
      await page.getByRole('button', { name: 'Verify' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#email'), { text: address });

      // A passkey the server refuses: its counter on record is ahead of the key's (as when a copy
      // of the key signed elsewhere). The browser signs, the server refuses, the page says so and
      // nobody is signed in. (The clocked app has a database of its own.)
      const [, changed] = (await clocked.dataSource.query(
        'UPDATE passkeys p SET counter = 1000000 FROM users u WHERE u.id = p.user_id AND u.email = $1',
        [address],
      )) as [unknown, number];
      expect(changed).toBe(1);
      await signOut(page);
      await page.getByLabel('Email').fill(address);
      const refused = page.waitForResponse((response) => new URL(response.url()).pathname === '/auth/passkeys/login');
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      expect((await refused).status()).toBe(401);
      await shows(page.getByRole('status'), { text: 'This passkey was not accepted. Try another way to sign in.' });
      expect(new URL(page.url()).pathname).toBe('/account/sign-in');
      expect(await page.getByRole('button', { name: 'Sign in with a passkey' }).isEnabled()).toBe(true);
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      expect(credentials).toHaveLength(1);

      // No passkey on the device for this account (as when the person cancels): the browser
      // refuses, no sign-in is sent, and the page says what happened.
      await cdp.send('WebAuthn.clearCredentials', { authenticatorId });
      let sent = 0;
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/auth/passkeys/login') sent += 1;
      });
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await shows(page.getByRole('status'), { text: 'No passkey was used: the request was cancelled or timed out.' });
      expect(sent).toBe(0);
      expect(new URL(page.url()).pathname).toBe('/account/sign-in');
    } finally {
      await context.close();
    }
  });

  it('passkeys: the sign-in page renews its autofill request before the challenge expires', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await virtualAuthenticator(page);
      // The page's timers run on a clock the test moves; the requests are held, as the person has
      // not picked a passkey yet.
      await page.clock.install();
      const autofill = await holdAutofill(page);
      let asked = 0;
      page.on('request', (request) => {
        if (new URL(request.url()).pathname === '/auth/passkeys/login/options') asked += 1;
      });
      await page.goto(`${base}/account/sign-in`);
      await autofill.asked();
      expect(asked).toBe(1);
      await page.clock.runFor(269_000);
      expect(asked).toBe(1);
      // At 4 minutes 30 seconds (the challenge lives 5): the old request is let go, a new one asked.
      await page.clock.runFor(1_000);
      await autofill.asked();
      expect(asked).toBe(2);
      autofill.release();
    } finally {
      await context.close();
    }
  });

  it('another provider: Continue with Test ID, sign in at its page, land on the account page signed in, with Connected accounts', async () => {
    const context = await browser.newContext();
    try {
      // The provider's page imports a web font: nothing leaves this machine.
      await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
      const address = email();
      provider.accounts.set('ada', { sub: `ada-${Date.now()}`, email: address, email_verified: true });
      const page = await context.newPage();
      await page.goto(`${clockedBase}/account/sign-in`);
      await page.getByRole('button', { name: 'Continue with Test ID' }).click();
      // The provider's own sign-in page (oidc-provider's): another site.
      await page.getByPlaceholder('Enter any login').fill('ada');
      expect(new URL(page.url()).origin).toBe(provider.issuer);
      await page.locator('input[name=password]').fill('anything');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#email'), { text: address });
      await shows(page.locator('#email-status'), { text: 'Email verified' });
      const connected = page.getByRole('list', { name: 'Connected accounts' }).getByRole('listitem');
      await shows(connected, { count: 1 });
      await shows(connected.locator('.name'), { text: 'Test ID' });
      await shows(connected.locator('.meta'), { containing: address });
      // Its only way in: disconnecting it is refused, and said.
      page.once('dialog', (dialog) => void dialog.accept());
      await connected.getByRole('button', { name: 'Disconnect Test ID' }).click();
      await shows(page.getByRole('status'), {
        text: 'This connected account is the last way to sign in to the account',
      });
      await shows(connected, { count: 1 });
      // The sign-in page says why a provider's sign-in did not happen.
      await page.goto(`${clockedBase}/account/sign-in?oidc_error=account_exists`);
      await shows(page.getByRole('status'), {
        text: 'An account with this email exists: sign in and connect it from your account page.',
      });
      expect(new URL(page.url()).search).toBe('');
    } finally {
      await context.close();
    }
  });

  it('another provider: Connect Test ID from the account page, then it signs in to this account', async () => {
    const context = await browser.newContext();
    try {
      await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
      const address = email();
      const page = await signUp(context, address, clockedBase);
      provider.accounts.set('grace', { sub: `grace-${Date.now()}`, email: email(), email_verified: true });
      const connected = page.getByRole('list', { name: 'Connected accounts' }).getByRole('listitem');
      await shows(connected, { count: 0 });
      await page.getByRole('button', { name: 'Connect Test ID', exact: true }).click();
      await page.getByPlaceholder('Enter any login').fill('grace');
      await page.locator('input[name=password]').fill('anything');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(connected, { count: 1 });
      await shows(connected.locator('.name'), { text: 'Test ID' });
      await shows(page.getByRole('button', { name: 'Connect Test ID', exact: true }), { count: 0 });
      // Signed out, the provider signs in to this account (its address is not this one's).
      await signOut(page);
      await page.getByRole('button', { name: 'Continue with Test ID' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#email'), { text: address });
      // With a password, disconnecting is allowed (confirmed).
      page.once('dialog', (dialog) => void dialog.accept());
      await connected.getByRole('button', { name: 'Disconnect Test ID' }).click();
      await shows(connected, { count: 0 });
      await shows(page.getByRole('button', { name: 'Connect Test ID', exact: true }), { count: 1 });
    } finally {
      await context.close();
    }
  });

  it('another provider, then a passkey: a user with a passkey and no app gives it after the provider', async () => {
    const context = await browser.newContext();
    try {
      await context.route('https://fonts.googleapis.com/**', (route) => route.abort());
      const address = email();
      const page = await signUp(context, address, clockedBase);
      await virtualAuthenticator(page);
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await shows(passkeys(page), { count: 1 });
      provider.accounts.set('henry', { sub: `henry-${Date.now()}`, email: email(), email_verified: true });
      await page.getByRole('button', { name: 'Connect Test ID', exact: true }).click();
      await page.getByPlaceholder('Enter any login').fill('henry');
      await page.locator('input[name=password]').fill('anything');
      await page.getByRole('button', { name: 'Sign-in' }).click();
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.getByRole('list', { name: 'Connected accounts' }).getByRole('listitem'), { count: 1 });
      const autofill = await holdAutofill(page);

      // Signed out, back through the provider (still signed in there): the passkey is asked for,
      // and only it (no app to take a code from).
      await signOut(page);
      await page.getByRole('button', { name: 'Continue with Test ID' }).click();
      const usePasskey = page.getByRole('button', { name: 'Use a passkey' });
      await usePasskey.waitFor();
      await shows(page.locator('#passkey-only'), { text: 'Use your passkey to finish signing in.' });
      expect(await page.getByLabel('Authentication code').isVisible()).toBe(false);
      expect(new URL(page.url()).search).toBe('');
      const second = page.waitForResponse((response) => new URL(response.url()).pathname === '/auth/login/mfa');
      await usePasskey.click();
      expect((await second).status()).toBe(200);
      await page.waitForURL(`${clockedBase}/account`);
      await shows(page.locator('#email'), { text: address });
      autofill.release();
    } finally {
      await context.close();
    }
  });

  it('works with the keyboard alone and at 360 px wide', async () => {
    const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
    const address = email();
    const page = await signUp(context, address);
    // Nothing wider than the screen.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    const signIn = await context.newPage();
    await signIn.goto(`${base}/account/sign-in`);
    // Tab order follows the form: Email, Password, Device name, Sign in.
    await signIn.keyboard.press('Tab');
    expect(await signIn.evaluate('document.activeElement.id')).toBe('email');
    await signIn.keyboard.press('Tab');
    expect(await signIn.evaluate('document.activeElement.id')).toBe('password');
    await signIn.keyboard.press('Tab');
    expect(await signIn.evaluate('document.activeElement.id')).toBe('device-name');
    await signIn.keyboard.press('Tab');
    expect(await signIn.evaluate('document.activeElement.textContent')).toBe('Sign in');
    await context.close();
  });

  it('serves the pages with a strict Content-Security-Policy and no-store', async () => {
    const response = await fetch(`${base}/account/sign-in`);
    expect(response.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(html).not.toMatch(/\sstyle=|<style/);
    expect((await fetch(`${base}/account/assets/pages/../../main.js`)).status).toBe(404);
  });
});
