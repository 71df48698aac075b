import type { ResolvedAccountPagesOptions } from './account-pages.options.js';

/**
 * The account pages' HTML: no inline script or style (the CSP forbids both), no third-party
 * origin, every dynamic value (device names, user agents, emails) written by the scripts as
 * text, never as HTML. Only the fixed options below are interpolated, escaped.
 */
function escape(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** The pages' own prefix: '' when mounted at the root (never '/', or '//assets' would name a host). */
function baseOf(options: ResolvedAccountPagesOptions): string {
  return options.path === '' ? '' : `/${options.path}`;
}

function page(options: ResolvedAccountPagesOptions, title: string, script: string, body: string): string {
  const base = baseOf(options);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)} · ${escape(options.appName)}</title>
<link rel="stylesheet" href="${escape(base)}/assets/account.css">
<script type="module" src="${escape(base)}/assets/pages/${script}.js"></script>
</head>
<body data-auth-path="${escape(options.authPath)}" data-base="${escape(base)}">
<main>
${body}
</main>
</body>
</html>
`;
}

export function signInPage(options: ResolvedAccountPagesOptions): string {
  const base = escape(baseOf(options));
  return page(
    options,
    'Sign in',
    'sign-in',
    `<h1>Sign in</h1>
<p id="message" class="message" role="status" aria-live="polite"></p>
<form id="sign-in-form">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username webauthn" required maxlength="254">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
  <label for="device-name">Device name <span class="hint">(optional)</span></label>
  <input id="device-name" name="deviceName" type="text" maxlength="100" autocomplete="off">
  <button type="submit">Sign in</button>
</form>
<p id="passkey-sign-in-actions" class="actions"><button type="button" id="passkey-sign-in" class="secondary">Sign in with a passkey</button></p>
<div id="providers" class="actions" hidden></div>
<form id="code-form" hidden>
  <div id="code-entry">
  <p>Open your authenticator app and enter the code it shows for this account.</p>
  <label for="code">Authentication code</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="32" spellcheck="false">
  <button type="submit">Verify</button>
  <button type="button" id="use-recovery-code" class="secondary">Use a recovery code</button>
  </div>
  <p id="passkey-only" hidden>Use your passkey to finish signing in.</p>
  <button type="button" id="use-passkey" class="secondary" hidden>Use a passkey</button>
</form>
<form id="recovery-form" hidden>
  <p>Enter one of the recovery codes you saved when you turned on two-factor authentication. Each code works once.</p>
  <label for="recovery-code">Recovery code</label>
  <input id="recovery-code" name="recoveryCode" type="text" autocomplete="off" autocapitalize="none" required maxlength="64" spellcheck="false">
  <button type="submit">Verify</button>
  <button type="button" id="use-authentication-code" class="secondary">Use your authenticator app</button>
</form>
<p><a href="${base}/forgot-password">Forgot password?</a></p>
<p class="actions"><button type="button" id="resend-verification" class="secondary" hidden>Resend verification email</button></p>
<p>No account yet? <a href="${base}/sign-up">Create an account</a></p>`,
  );
}

export function signUpPage(options: ResolvedAccountPagesOptions): string {
  const base = escape(baseOf(options));
  return page(
    options,
    'Create an account',
    'sign-up',
    `<h1>Create an account</h1>
<p id="message" class="message" role="status" aria-live="polite"></p>
<form id="sign-up-form">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required maxlength="254">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
  <label for="confirm-password">Confirm password</label>
  <input id="confirm-password" name="confirmPassword" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
  <button type="submit">Create account</button>
</form>
<p>Already have an account? <a href="${base}/sign-in">Sign in</a></p>`,
  );
}

export function accountPage(options: ResolvedAccountPagesOptions): string {
  return page(
    options,
    'Your account',
    'account',
    `<h1>Your account</h1>
<p>Signed in as <strong id="email"></strong></p>
<p id="email-status"></p>
<p class="actions"><button type="button" id="resend-verification" class="secondary" hidden>Resend verification email</button></p>
<p id="message" class="message" role="status" aria-live="polite"></p>
<section aria-labelledby="devices-title">
  <h2 id="devices-title">Signed-in devices</h2>
  <ul id="devices" class="devices" aria-labelledby="devices-title"></ul>
  <div class="actions">
    <button type="button" id="sign-out-others">Sign out all other devices</button>
    <button type="button" id="sign-out-everywhere">Sign out everywhere</button>
    <button type="button" id="sign-out">Sign out</button>
  </div>
</section>
<section id="passkeys-section" aria-labelledby="passkeys-title">
  <h2 id="passkeys-title">Passkeys</h2>
  <p id="passkeys-status">A passkey signs you in with this device’s screen lock or security key, with no password to type.</p>
  <ul id="passkeys" class="devices" aria-labelledby="passkeys-title"></ul>
  <div class="actions">
    <button type="button" id="passkey-add">Add a passkey</button>
  </div>
</section>
<section id="identities-section" aria-labelledby="identities-title" hidden>
  <h2 id="identities-title">Connected accounts</h2>
  <p>Sign in with an account you have elsewhere. Disconnecting one stops it signing you in here.</p>
  <ul id="identities" class="devices" aria-labelledby="identities-title"></ul>
  <div id="identity-connect" class="actions"></div>
</section>
<section aria-labelledby="mfa-title">
  <h2 id="mfa-title">Two-factor authentication</h2>
  <p id="mfa-status" tabindex="-1"></p>
  <div class="actions">
    <button type="button" id="totp-setup" hidden>Set up authenticator app</button>
    <button type="button" id="recovery-codes-new" class="secondary" hidden>Get new recovery codes</button>
    <button type="button" id="totp-disable" class="danger" hidden>Turn off two-factor authentication</button>
  </div>
  <div id="totp-enrolment" hidden>
    <p>Scan this QR code with your authenticator app, or type the secret key into it. Then enter the code the app shows.</p>
    <div id="totp-qr" class="qr"></div>
    <form id="totp-enable-form">
      <label for="totp-secret">Secret key</label>
      <input id="totp-secret" type="text" readonly autocomplete="off" spellcheck="false" class="secret">
      <label for="totp-code">Authentication code</label>
      <input id="totp-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="32" spellcheck="false">
      <p id="totp-enable-note">Turning it on signs out your other devices.</p>
      <button type="submit" aria-describedby="totp-enable-note">Turn on</button>
    </form>
  </div>
  <div id="recovery-codes-panel" tabindex="-1" hidden>
    <p>Save these recovery codes somewhere safe: each one signs you in once if you lose your authenticator app. They are shown only now.</p>
    <ol id="recovery-codes" class="codes" aria-label="Recovery codes"></ol>
    <button type="button" id="recovery-codes-saved">I have saved these codes</button>
  </div>
  <form id="reauth-form" hidden>
    <p id="reauth-hint">For your security, enter your password again to continue.</p>
    <label for="reauth-password">Password</label>
    <input id="reauth-password" name="password" type="password" autocomplete="current-password" required maxlength="256" aria-describedby="reauth-hint">
    <button type="submit">Confirm</button>
    <button type="button" id="reauth-use-code" class="secondary" hidden>Use an authentication code instead</button>
    <button type="button" id="reauth-use-passkey" class="secondary" hidden>Use a passkey instead</button>
    <button type="button" class="secondary reauth-cancel">Cancel</button>
  </form>
  <form id="reauth-code-form" hidden>
    <p id="reauth-code-hint">For your security, enter the code your authenticator app shows to continue.</p>
    <label for="reauth-code">Authentication code</label>
    <input id="reauth-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="32" spellcheck="false" aria-describedby="reauth-code-hint">
    <button type="submit">Confirm</button>
    <button type="button" id="reauth-use-password" class="secondary" hidden>Use your password instead</button>
    <button type="button" class="secondary reauth-cancel">Cancel</button>
  </form>
</section>
<section aria-labelledby="password-title">
  <h2 id="password-title">Change password</h2>
  <form id="password-form">
    <label for="current-password">Current password</label>
    <input id="current-password" name="currentPassword" type="password" autocomplete="current-password" required maxlength="256">
    <label for="new-password">New password</label>
    <input id="new-password" name="newPassword" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
    <button type="submit">Change password</button>
  </form>
</section>
<section aria-labelledby="activity-title">
  <h2 id="activity-title">Recent activity</h2>
  <p>Sign-ins, failed attempts and changes to your account’s security, newest first.</p>
  <ul id="activity" class="devices" aria-labelledby="activity-title"></ul>
  <p id="activity-empty" hidden>No activity yet.</p>
  <div class="actions">
    <button type="button" id="activity-more" class="secondary" hidden>Show more</button>
  </div>
</section>
<section aria-labelledby="delete-title">
  <h2 id="delete-title">Delete account</h2>
  <form id="delete-form">
    <label for="delete-password">Password to confirm</label>
    <input id="delete-password" name="password" type="password" autocomplete="current-password" required maxlength="256">
    <button type="submit" class="danger">Delete account</button>
  </form>
</section>`,
  );
}

export function forgotPasswordPage(options: ResolvedAccountPagesOptions): string {
  const base = escape(baseOf(options));
  return page(
    options,
    'Forgot password',
    'forgot-password',
    `<h1>Forgot password</h1>
<p>Enter the email address of your account: we will send it a link to set a new password.</p>
<p id="message" class="message" role="status" aria-live="polite"></p>
<form id="forgot-form">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required maxlength="254">
  <button type="submit">Send reset link</button>
</form>
<p><a href="${base}/sign-in">Back to sign in</a></p>`,
  );
}

export function resetPasswordPage(options: ResolvedAccountPagesOptions): string {
  const base = escape(baseOf(options));
  return page(
    options,
    'Set a new password',
    'reset-password',
    `<h1>Set a new password</h1>
<p>Setting a new password signs you out on every device.</p>
<p id="message" class="message" role="status" aria-live="polite"></p>
<form id="reset-form">
  <label for="new-password">New password</label>
  <input id="new-password" name="newPassword" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
  <label for="confirm-password">Confirm password</label>
  <input id="confirm-password" name="confirmPassword" type="password" autocomplete="new-password" required minlength="8" maxlength="256">
  <button type="submit">Set new password</button>
</form>
<p><a href="${base}/forgot-password">Ask for a new link</a></p>`,
  );
}

export function verifyEmailPage(options: ResolvedAccountPagesOptions): string {
  const base = escape(baseOf(options));
  return page(
    options,
    'Confirm your email address',
    'verify-email',
    `<h1>Confirm your email address</h1>
<p id="message" class="message" role="status" aria-live="polite"></p>
<form id="verify-form">
  <button type="submit">Confirm email address</button>
</form>
<p><a href="${base || '/'}">Go to your account</a></p>`,
  );
}

/**
 * The "This wasn't me" link of a new-device alert. Secured on a click only: a mail scanner that
 * opens the link must not sign the person out everywhere.
 */
export function securePage(options: ResolvedAccountPagesOptions): string {
  const base = escape(baseOf(options));
  return page(
    options,
    'Secure your account',
    'secure',
    `<h1>Secure your account</h1>
<p id="secure-intro">If someone else signed in to your account, secure it: this signs you out on every device, theirs included, stops your current password from working, removes your passkeys and connected accounts, and emails you a link to set a new password.</p>
<p id="message" class="message" role="status" aria-live="polite"></p>
<form id="secure-form">
  <button type="submit" aria-describedby="secure-intro">Secure my account</button>
</form>
<p id="other-ways" hidden><a href="${base}/sign-in">Sign in</a> · <a href="${base}/forgot-password">Forgot password?</a></p>`,
  );
}

export const ACCOUNT_CSS = `:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; padding: 1rem; }
main { max-width: 40rem; margin: 0 auto; }
h1 { font-size: 1.6rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
form { display: grid; gap: 0.4rem; max-width: 24rem; }
label { font-weight: 600; margin-top: 0.4rem; }
.hint { font-weight: 400; opacity: 0.75; }
input { font: inherit; padding: 0.5rem; border: 1px solid #767676; border-radius: 4px; min-width: 0; }
button { font: inherit; padding: 0.5rem 0.9rem; border-radius: 4px; border: 1px solid #1a4fa3; background: #1f5fc4; color: #fff; cursor: pointer; }
button.secondary { background: transparent; color: inherit; border-color: #767676; }
button.danger { background: #b3261e; border-color: #8c1d17; }
button:focus-visible, input:focus-visible, a:focus-visible { outline: 3px solid #f2a900; outline-offset: 2px; }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin-top: 1rem; }
.message:empty { padding: 0; }
.message { padding: 0.6rem 0.8rem; border-radius: 4px; background: #fff4ce; color: #3d3000; }
.devices { list-style: none; padding: 0; display: grid; gap: 0.6rem; }
.devices li { border: 1px solid #767676; border-radius: 6px; padding: 0.6rem 0.8rem; overflow-wrap: anywhere; }
.devices .name { font-weight: 600; }
.devices .badge { display: inline-block; margin-left: 0.5rem; padding: 0 0.4rem; border-radius: 4px; background: #d6f5d6; color: #0b3d0b; font-size: 0.85rem; }
.devices .meta { font-size: 0.9rem; opacity: 0.85; }
/* The hidden attribute must win over the display of forms and the like above. */
[hidden] { display: none !important; }
.qr svg { display: block; width: 100%; max-width: 14rem; height: auto; margin: 0.5rem 0; }
.secret, .codes { font-family: ui-monospace, monospace; }
.codes { columns: 2; padding-left: 2rem; }
`;
