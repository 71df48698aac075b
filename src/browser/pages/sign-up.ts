import { AuthApiError } from '../client.js';
import { explain, field, onSubmit, pageContext } from './ui.js';

const { client, base, say } = pageContext();
const form = document.getElementById('sign-up-form') as HTMLFormElement;

onSubmit(form, async () => {
  const password = field(form, 'password');
  if (password !== field(form, 'confirmPassword')) {
    say('The passwords do not match.');
    return;
  }
  try {
    await client.signUp(field(form, 'email'), password);
    location.assign(base || '/');
    return true; // navigating away: the form stays disabled
  } catch (error) {
    if (error instanceof AuthApiError && error.status === 409) say('An account with this email already exists.');
    else say(explain(error));
  }
});
