import { AuthApiError, type MfaStatus } from '../client.js';
import { explain, field, onSubmit, type PageContext } from './ui.js';

const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';

/** The server's refusal of a change of the second factor when the sign-in is not recent enough. */
function needsReauthentication(error: unknown): boolean {
  return error instanceof AuthApiError && error.status === 403 && error.message === 'Recent authentication required';
}

function element<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/**
 * The server's QR code as an inline <svg>, fetched by the client (which refreshes and reports
 * errors, as an <img> could not), parsed as SVG, never as HTML, and imported. Anything but an SVG
 * document is refused; scripts and event handlers are dropped, though the CSP would not run them.
 */
function qrCodeElement(svgText: string): SVGSVGElement {
  const parsed = new DOMParser().parseFromString(svgText, 'image/svg+xml');
  const root = parsed.documentElement;
  const wellFormed = parsed.getElementsByTagName('parsererror').length === 0;
  if (!wellFormed || root.namespaceURI !== SVG_NAMESPACE || root.localName !== 'svg') {
    throw new Error('The QR code is not an SVG document');
  }
  for (const script of root.querySelectorAll('script, foreignObject')) script.remove();
  for (const node of [root, ...root.querySelectorAll('*')]) {
    for (const attribute of [...node.attributes]) if (/^on/i.test(attribute.name)) node.removeAttribute(attribute.name);
  }
  const svg = document.importNode(root, true) as unknown as SVGSVGElement;
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'QR code for your authenticator app');
  return svg;
}

/**
 * The account page's "Two-factor authentication" section: an authenticator app set up (QR code
 * and secret key), turned on with a code, turned off; recovery codes shown once. Changes need a
 * recent authentication: when the server asks for one, the password is asked for, then the same
 * change runs again.
 */
export function twoFactorSection({ client, say }: PageContext): { refresh(): Promise<void> } {
  const status = element<HTMLParagraphElement>('mfa-status');
  const setupButton = element<HTMLButtonElement>('totp-setup');
  const newCodesButton = element<HTMLButtonElement>('recovery-codes-new');
  const disableButton = element<HTMLButtonElement>('totp-disable');
  const enrolment = element<HTMLDivElement>('totp-enrolment');
  const qrCode = element<HTMLDivElement>('totp-qr');
  const secret = element<HTMLInputElement>('totp-secret');
  const enableForm = element<HTMLFormElement>('totp-enable-form');
  const codesPanel = element<HTMLDivElement>('recovery-codes-panel');
  const codesList = element<HTMLOListElement>('recovery-codes');
  const reauthForm = element<HTMLFormElement>('reauth-form');

  /** The change that waits for the password (the last one asked for). */
  let awaitingReauthentication: (() => Promise<void>) | null = null;

  function showStatus(mfa: MfaStatus): void {
    status.textContent = mfa.totp
      ? `Two-factor authentication is on. ${mfa.recoveryCodesLeft} recovery code${mfa.recoveryCodesLeft === 1 ? '' : 's'} left.`
      : 'Two-factor authentication is off.';
    // Setting up again while it is being set up would only replace the secret the app scanned.
    setupButton.hidden = mfa.totp || !enrolment.hidden;
    newCodesButton.hidden = !mfa.totp;
    disableButton.hidden = !mfa.totp;
  }

  async function refreshStatus(): Promise<void> {
    showStatus(await client.mfaStatus());
  }

  /** The secret leaves the page once the app is on (or the set-up is abandoned). */
  function closeEnrolment(): void {
    enrolment.hidden = true;
    qrCode.replaceChildren();
    secret.value = '';
    enableForm.reset();
  }

  /** Codes as text, shown until the person says they saved them. */
  function showRecoveryCodes(codes: string[]): void {
    codesList.replaceChildren(
      ...codes.map((code) => {
        const item = document.createElement('li');
        item.textContent = code;
        return item;
      }),
    );
    codesPanel.hidden = false;
    codesPanel.focus();
  }

  /**
   * Runs a change; one refused for want of a recent authentication waits for the password
   * (the re-authentication form), and runs again once it is confirmed.
   */
  async function withRecentAuthentication(change: () => Promise<void>): Promise<void> {
    try {
      await change();
    } catch (error) {
      if (!needsReauthentication(error)) throw error;
      awaitingReauthentication = change;
      reauthForm.hidden = false;
      say('');
      reauthForm.querySelector('input')?.focus();
    }
  }

  /** A button's change, with its failure said. */
  function onClick(button: HTMLButtonElement, change: () => Promise<void>, confirmation?: string): void {
    button.addEventListener('click', () => {
      if (confirmation && !confirm(confirmation)) return;
      void withRecentAuthentication(change).catch((error: unknown) => say(explain(error)));
    });
  }

  onClick(setupButton, async () => {
    const setup = await client.setupTotp();
    qrCode.replaceChildren(qrCodeElement(await client.totpQrCode()));
    secret.value = setup.secret;
    enrolment.hidden = false;
    setupButton.hidden = true;
    say('');
    enableForm.querySelector<HTMLInputElement>('input[name=code]')?.focus();
  });

  onSubmit(enableForm, async () => {
    try {
      await withRecentAuthentication(async () => {
        const codes = await client.enableTotp(field(enableForm, 'code').trim());
        closeEnrolment();
        say('Two-factor authentication is on.');
        showRecoveryCodes(codes);
        await refreshStatus();
      });
    } catch (error) {
      say(explain(error));
    }
  });

  onClick(newCodesButton, async () => {
    const codes = await client.regenerateRecoveryCodes();
    say('New recovery codes: the old ones no longer work.');
    showRecoveryCodes(codes);
    await refreshStatus();
  });

  onClick(
    disableButton,
    async () => {
      await client.disableTotp();
      codesPanel.hidden = true;
      codesList.replaceChildren();
      say('Two-factor authentication is off.');
      await refreshStatus();
    },
    'Turn off two-factor authentication? Signing in will need only your password.',
  );

  element<HTMLButtonElement>('recovery-codes-saved').addEventListener('click', () => {
    // Out of the page, not just out of sight.
    codesList.replaceChildren();
    codesPanel.hidden = true;
    status.focus();
  });

  onSubmit(reauthForm, async () => {
    try {
      await client.reauthenticate({ password: field(reauthForm, 'password') });
    } catch (error) {
      say(explain(error));
      return;
    }
    reauthForm.reset();
    reauthForm.hidden = true;
    say('');
    const change = awaitingReauthentication;
    awaitingReauthentication = null;
    if (change) await withRecentAuthentication(change).catch((error: unknown) => say(explain(error)));
  });

  element<HTMLButtonElement>('reauth-cancel').addEventListener('click', () => {
    awaitingReauthentication = null;
    reauthForm.reset();
    reauthForm.hidden = true;
    say('');
  });

  return { refresh: refreshStatus };
}
