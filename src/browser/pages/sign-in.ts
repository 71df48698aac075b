import { AuthApiError, type SecondFactorProof } from '../client.js';
import { explain, field, onSubmit, pageContext } from './ui.js';

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

/** The second step's token, in memory only: a reload starts the sign-in again. */
let mfaToken: string | null = null;

/** One step shown at a time, its first field focused: the password, a code from the app, or a recovery code. */
function showStep(step: 'password' | 'code' | 'recovery'): void {
  const shown = { password: form, code: codeForm, recovery: recoveryForm }[step];
  for (const candidate of [form, codeForm, recoveryForm]) candidate.hidden = candidate !== shown;
  shown.querySelector('input')?.focus();
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
    if ('mfaRequired' in answer) {
      mfaToken = answer.mfaToken;
      say('');
      showStep('code');
      return;
    }
    location.assign(base || '/');
    return true; // navigating away: the form stays disabled
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

resend.addEventListener('click', () => {
  resend.disabled = true;
  client
    .resendVerification(field(form, 'email'))
    .then(say, (error: unknown) => say(explain(error)))
    .finally(() => {
      resend.disabled = false;
    });
});
