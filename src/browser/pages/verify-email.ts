import { AuthApiError } from '../client.js';
import { explain, pageContext } from './ui.js';

const { client, say } = pageContext();

const token = new URLSearchParams(location.search).get('token') ?? '';
history.replaceState(null, '', location.pathname);

async function confirm(): Promise<void> {
  if (!token) {
    say('This link is incomplete.');
    return;
  }
  try {
    await client.verifyEmail(token);
    say('Your email address is confirmed.');
  } catch (error) {
    say(
      error instanceof AuthApiError && error.message === 'Invalid or expired link'
        ? 'This link has expired or was already used. Sign in and ask for a new one from your account page.'
        : explain(error),
    );
  }
}

void confirm();
