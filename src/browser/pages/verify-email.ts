import { AuthApiError } from '../client.js';
import { explain, onSubmit, pageContext } from './ui.js';

const { client, say } = pageContext();

// The token stays in memory only: out of the address bar, the history and any later Referer.
const token = new URLSearchParams(location.search).get('token') ?? '';
history.replaceState(null, '', location.pathname);
if (!token) say('This link is incomplete.');

/**
 * Confirmed by a click, not on load: mail scanners that open links (and run their scripts) must
 * not confirm an address for whoever registered it.
 */
const form = document.getElementById('verify-form') as HTMLFormElement;
onSubmit(form, async () => {
  try {
    await client.verifyEmail(token);
    say('Your email address is confirmed.');
    form.hidden = true;
    return true; // done: the button stays disabled
  } catch (error) {
    say(
      error instanceof AuthApiError && error.message === 'Invalid or expired link'
        ? 'This link has expired or was already used. Sign in and ask for a new one from your account page.'
        : explain(error),
    );
  }
});
