import { AuthApiError, createAuthClient, type AuthClient } from '../client.js';

/** What every page shares: its client (API prefix from the page), its paths and its message line. */
export interface PageContext {
  client: AuthClient;
  /** Where the pages are mounted, e.g. /account. */
  base: string;
  say(text: string): void;
}

export function pageContext(): PageContext {
  const { authPath = '/auth', base = '' } = document.body.dataset;
  const message = document.getElementById('message');
  return {
    client: createAuthClient({ authPath }),
    base,
    // textContent, never innerHTML: nothing the server or a user wrote is parsed as markup.
    say: (text) => {
      if (message) message.textContent = text;
    },
  };
}

/** A person-readable sentence for a failed call. */
export function explain(error: unknown): string {
  if (error instanceof DOMException) return explainWebAuthn(error);
  if (!(error instanceof AuthApiError)) return 'Something went wrong. Check your connection and try again.';
  if (error.status === 429) {
    const wait = error.retryAfter ?? 60;
    return `Too many attempts. Try again in ${wait} second${wait === 1 ? '' : 's'}.`;
  }
  if (error.status === 503) return 'The service is briefly unavailable. Try again in a few seconds.';
  return error.message;
}

/** Whether a passkey request ended because another one (or the page) took over: nothing to say. */
export function aborted(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

/** What the browser's WebAuthn refusals mean for the person. */
function explainWebAuthn(error: DOMException): string {
  switch (error.name) {
    case 'NotAllowedError':
      return 'No passkey was used: the request was cancelled or timed out.';
    case 'InvalidStateError':
      return 'This device already holds a passkey for your account.';
    case 'AbortError':
      return 'The passkey request was cancelled.';
    case 'SecurityError':
      return 'Passkeys cannot be used on this address (they need HTTPS and the site’s own domain).';
    default:
      return 'Your browser could not use a passkey.';
  }
}

/** The value of a form's field by name. */
export function field(form: HTMLFormElement, name: string): string {
  const element = form.elements.namedItem(name);
  return element instanceof HTMLInputElement ? element.value : '';
}

/**
 * Runs a form's action with its buttons disabled, so that a double click sends once. An action
 * that resolves to true is navigating away: the buttons stay disabled.
 */
export function onSubmit(form: HTMLFormElement, action: () => Promise<boolean | void>): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll('button')];
    for (const button of buttons) button.disabled = true;
    void action().then(
      (leaving) => {
        if (leaving !== true) for (const button of buttons) button.disabled = false;
      },
      () => {
        for (const button of buttons) button.disabled = false;
      },
    );
  });
}
