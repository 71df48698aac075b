import { AuthApiError } from '../client.js';
import { explain, onSubmit, pageContext } from './ui.js';

const { client, say } = pageContext();

// The token stays in memory only: out of the address bar, the history and any later Referer.
const token = new URLSearchParams(location.search).get('token') ?? '';
history.replaceState(null, '', location.pathname);
if (!token) say('This link is incomplete.');

/**
 * Confirmed by a click, not on load: a mail scanner that opens the link (and runs its scripts)
 * must not sign the person out everywhere.
 */
const form = document.getElementById('secure-form') as HTMLFormElement;
const otherWays = document.getElementById('other-ways');
onSubmit(form, async () => {
  try {
    await client.secureAccount(token);
    say(
      'Your account is secured: every session has ended, on every device. A link to set a new password is on its way to your email address.',
    );
    form.hidden = true;
    return true; // done: the button stays disabled
  } catch (error) {
    if (error instanceof AuthApiError && error.message === 'Invalid or expired link') {
      say(
        'This link has expired, was already used, or a newer alert replaced it. Sign in and change your password from your account page, or ask for a reset link on the forgot password page.',
      );
      if (otherWays) otherWays.hidden = false;
    } else {
      say(explain(error));
    }
  }
});
