import { AuthApiError } from '../client.js';
import { explain, field, onSubmit, pageContext } from './ui.js';

const { client, base, say } = pageContext();
const params = new URLSearchParams(location.search);
if (params.get('ended') === '1') say('Your session has ended. Please sign in again.');
else if (params.get('signed-out') === '1') say('You are signed out.');
else if (params.get('reset') === '1')
  say('Your password has been changed and you are signed out everywhere. Sign in with your new password.');

const resend = document.getElementById('resend-verification') as HTMLButtonElement;

const form = document.getElementById('sign-in-form') as HTMLFormElement;
onSubmit(form, async () => {
  try {
    await client.signIn(field(form, 'email'), field(form, 'password'), field(form, 'deviceName').trim() || undefined);
    location.assign(base || '/');
    return true; // navigating away: the form stays disabled
  } catch (error) {
    if (error instanceof AuthApiError && error.status === 401) say('Wrong email or password.');
    else if (error instanceof AuthApiError && error.message === 'Email address not verified') {
      say('Confirm your email address first: open the link we sent you.');
      resend.hidden = false;
    } else if (error instanceof AuthApiError && error.status === 403)
      say(`This account is suspended. ${error.message}.`);
    else say(explain(error));
  }
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
