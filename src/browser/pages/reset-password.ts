import { AuthApiError } from '../client.js';
import { explain, field, onSubmit, pageContext } from './ui.js';

const { client, base, say } = pageContext();

// The token stays in memory only: out of the address bar, the history and any later Referer.
const token = new URLSearchParams(location.search).get('token') ?? '';
history.replaceState(null, '', location.pathname);
if (!token) say('This link is incomplete. Ask for a new one.');

const form = document.getElementById('reset-form') as HTMLFormElement;
onSubmit(form, async () => {
  const newPassword = field(form, 'newPassword');
  if (newPassword !== field(form, 'confirmPassword')) {
    say('The two passwords differ.');
    return;
  }
  try {
    await client.resetPassword(token, newPassword);
    location.assign(`${base}/sign-in?reset=1`);
    return true; // navigating away: the form stays disabled
  } catch (error) {
    if (error instanceof AuthApiError && error.message === 'Invalid or expired link') {
      say('This link has expired or was already used. Ask for a new one.');
    } else {
      say(explain(error));
    }
  }
});
