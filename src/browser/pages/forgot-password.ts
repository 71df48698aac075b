import { explain, field, onSubmit, pageContext } from './ui.js';

const { client, say } = pageContext();

const form = document.getElementById('forgot-form') as HTMLFormElement;
onSubmit(form, async () => {
  try {
    // The same answer whether the address is an account's or not.
    say(await client.requestPasswordReset(field(form, 'email')));
  } catch (error) {
    say(explain(error));
  }
});
