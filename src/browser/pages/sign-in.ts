import { AuthApiError, type MfaChallenge, type SecondFactorProof, type SignedIn } from '../client.js';
import { aborted, explain, field, onSubmit, pageContext } from './ui.js';

const { client, base, say } = pageContext();
const params = new URLSearchParams(location.search);
if (params.get('ended') === '1') say('Your session has ended. Please sign in again.');
else if (params.get('signed-out') === '1') say('You are signed out.');
else if (params.get('reset') === '1')
  say('Your password has been changed and you are signed out everywhere. Sign in with your new password.');

/** The server's answer to a second step whose mfaToken is used, expired or dead (5 wrong codes). */
const MFA_TOKEN_DEAD = 'Invalid or expired mfaToken: sign in again';

const resend = document.getElementById('resend-verification') as HTMLButtonElement;
const form = document.getElementById('sign-in-form') as HTMLFormElement;
const codeForm = document.getElementById('code-form') as HTMLFormElement;
const recoveryForm = document.getElementById('recovery-form') as HTMLFormElement;
const passkeyActions = document.getElementById('passkey-sign-in-actions') as HTMLParagraphElement;
const passkeyButton = document.getElementById('passkey-sign-in') as HTMLButtonElement;
const usePasskeyButton = document.getElementById('use-passkey') as HTMLButtonElement;

/** The second step's token, in memory only: a reload starts the sign-in again. */
let mfaToken: string | null = null;

/** One step shown at a time, its first field focused: the password, a code from the app, or a recovery code. */
function showStep(step: 'password' | 'code' | 'recovery'): void {
  const shown = { password: form, code: codeForm, recovery: recoveryForm }[step];
  for (const candidate of [form, codeForm, recoveryForm]) candidate.hidden = candidate !== shown;
  passkeyActions.hidden = step !== 'password' || !client.passkeysSupported();
  if (step === 'password') void startAutofill();
  else stopAutofill();
  shown.querySelector('input')?.focus();
}

/**
 * The first step is over (a password, or a passkey): signed in, or the second step asked for
 * (with a passkey among its ways when the server lists one). True when navigating away.
 */
function firstStepDone(answer: SignedIn | MfaChallenge): boolean {
  if ('mfaRequired' in answer) {
    mfaToken = answer.mfaToken;
    usePasskeyButton.hidden = !answer.methods.includes('passkey') || !client.passkeysSupported();
    // A user with a passkey and no authenticator app (after another provider): the passkey alone.
    const withApp = answer.methods.includes('totp');
    (document.getElementById('code-entry') as HTMLDivElement).hidden = !withApp;
    (document.getElementById('passkey-only') as HTMLParagraphElement).hidden = withApp;
    (document.getElementById('code') as HTMLInputElement).required = withApp;
    say('');
    showStep('code');
    if (!withApp) usePasskeyButton.focus();
    return false;
  }
  stopAutofill();
  location.assign(base || '/');
  return true;
}

/** The pending autofill request (conditional mediation), while the password step is shown. */
let autofill: AbortController | null = null;

/** How long an autofill request waits before it is renewed: under the server's 5-minute challenge. */
const AUTOFILL_RENEWAL_MS = 270_000;

function stopAutofill(): void {
  autofill?.abort();
  autofill = null;
}

/**
 * Passkeys in the email field's autofill (`autocomplete="username webauthn"`): where the browser
 * supports conditional mediation, a request waits for the person to pick a passkey there, which
 * then signs in. The passkey button's own request replaces it; it starts again afterwards.
 */
async function startAutofill(): Promise<void> {
  if (autofill || !(await client.passkeyAutofillAvailable()) || form.hidden) return;
  const controller = new AbortController();
  autofill = controller;
  // The request may wait as long as the page is open, its challenge only 5 minutes: renewed
  // before then, so that a passkey picked later is not refused.
  const renewal = setTimeout(() => {
    if (autofill !== controller) return;
    stopAutofill();
    void startAutofill();
  }, AUTOFILL_RENEWAL_MS);
  controller.signal.addEventListener('abort', () => clearTimeout(renewal));
  try {
    firstStepDone(await client.signInWithPasskey({ autofill: true, signal: controller.signal }));
  } catch (error) {
    if (autofill === controller) autofill = null;
    if (aborted(error)) return; // the button's request, or the second step, took over
    if (error instanceof AuthApiError && error.status === 404) {
      passkeyActions.hidden = true; // passkeys are off on this server
      return;
    }
    passkeyFailure(error);
    if (error instanceof AuthApiError && error.status === 401) void startAutofill();
  }
}

/** What a failed passkey sign-in means for the person. */
function passkeyFailure(error: unknown): void {
  if (error instanceof AuthApiError && error.status === 401)
    say('This passkey was not accepted. Try another way to sign in.');
  else sayFailure(error);
}

/** What a failed step means for the person (a 401 of the password step is said by its caller). */
function sayFailure(error: unknown): void {
  if (error instanceof AuthApiError && error.message === 'Email address not verified') {
    say('Confirm your email address first: open the link we sent you.');
    resend.hidden = false;
  } else if (error instanceof AuthApiError && error.status === 403) say(`This account is suspended. ${error.message}.`);
  else say(explain(error));
}

onSubmit(form, async () => {
  try {
    const answer = await client.signIn(
      field(form, 'email'),
      field(form, 'password'),
      field(form, 'deviceName').trim() || undefined,
    );
    return firstStepDone(answer); // when navigating away, the form stays disabled
  } catch (error) {
    if (error instanceof AuthApiError && error.status === 401) say('Wrong email or password.');
    else sayFailure(error);
  }
});

/** The second step, with a code from the app or a recovery code. */
async function completeSignIn(stepForm: HTMLFormElement, proof: SecondFactorProof): Promise<boolean | void> {
  try {
    await client.completeSignIn(mfaToken ?? '', proof);
    location.assign(base || '/');
    return true; // navigating away: the form stays disabled
  } catch (error) {
    if (error instanceof AuthApiError && error.message === MFA_TOKEN_DEAD) {
      // Too slow, or too many wrong codes: the password has to be shown again.
      mfaToken = null;
      codeForm.reset();
      recoveryForm.reset();
      (form.elements.namedItem('password') as HTMLInputElement).value = '';
      showStep('password');
      say('This sign-in timed out or had too many wrong codes. Enter your password again.');
    } else {
      // A wrong code says the server's message ('Invalid code'), and is selected for retyping.
      sayFailure(error);
      const input = stepForm.querySelector('input');
      input?.focus();
      input?.select();
    }
  }
}

/** Sign in with a passkey the browser asks for: of the typed account when its address is valid, else any of this site. */
passkeyButton.addEventListener('click', () => {
  const emailInput = form.elements.namedItem('email') as HTMLInputElement;
  const email = emailInput.value.trim() !== '' && emailInput.checkValidity() ? emailInput.value.trim() : undefined;
  passkeyButton.disabled = true;
  say('');
  stopAutofill(); // one WebAuthn request at a time
  void client
    .signInWithPasskey({ email })
    .then(firstStepDone, (error: unknown) => {
      if (!aborted(error)) passkeyFailure(error);
      return false;
    })
    .then((leaving) => {
      if (leaving) return;
      passkeyButton.disabled = false;
      if (!form.hidden) void startAutofill();
    });
});

usePasskeyButton.addEventListener('click', () => {
  usePasskeyButton.disabled = true;
  void completeSignIn(codeForm, { passkey: true }).then((leaving) => {
    if (leaving !== true) usePasskeyButton.disabled = false;
  });
});

onSubmit(codeForm, () => completeSignIn(codeForm, { code: field(codeForm, 'code').trim() }));
onSubmit(recoveryForm, () =>
  completeSignIn(recoveryForm, { recoveryCode: field(recoveryForm, 'recoveryCode').trim() }),
);

document.getElementById('use-recovery-code')?.addEventListener('click', () => {
  say('');
  showStep('recovery');
});
document.getElementById('use-authentication-code')?.addEventListener('click', () => {
  say('');
  showStep('code');
});

if (client.passkeysSupported()) void startAutofill();
else passkeyActions.hidden = true;

resend.addEventListener('click', () => {
  resend.disabled = true;
  client
    .resendVerification(field(form, 'email'))
    .then(say, (error: unknown) => say(explain(error)))
    .finally(() => {
      resend.disabled = false;
    });
});

/** What a failed sign-in at another provider means for the person (`?oidc_error=`). */
const OIDC_ERRORS: Record<string, string> = {
  account_exists: 'An account with this email exists: sign in and connect it from your account page.',
  access_denied: 'The sign-in was cancelled.',
  provider_unavailable: 'That provider cannot be reached right now. Try again later, or sign in another way.',
  email_missing: 'That provider did not give an email address, which an account here needs.',
  account_suspended: 'This account is suspended.',
  email_not_verified: 'Confirm your email address first: open the link we sent you.',
  too_many_attempts: 'Too many sign-in attempts from this network. Try again in a minute.',
};
const oidcError = params.get('oidc_error');
const oidcCode = params.get('oidc_code');
// The code and the reason leave the address bar (and the history) at once.
if (oidcError !== null || oidcCode !== null) history.replaceState(null, '', location.pathname);
if (oidcError !== null) say(OIDC_ERRORS[oidcError] ?? 'Signing in with that account did not work. Try again.');

/** One **Continue with {name}** per provider the server offers (names as text). */
const providersBox = document.getElementById('providers') as HTMLDivElement;
void client
  .oidcProviders()
  .then((providers) => {
    providersBox.replaceChildren(
      ...providers.map((provider) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'secondary';
        button.textContent = `Continue with ${provider.name}`;
        button.addEventListener('click', () => client.signInWith(provider.id, base || '/'));
        return button;
      }),
    );
    providersBox.hidden = providers.length === 0;
  })
  .catch(() => undefined);

// Back from a provider with a second factor due: that step, as after a password.
if (oidcCode !== null) {
  void client.completeOidcSignIn(oidcCode).then(firstStepDone, (error: unknown) => say(explain(error)));
}
