import { AuthApiError, type MfaStatus, type ReauthenticationProof } from '../client.js';
import { explain, field, onSubmit, type PageContext } from './ui.js';

const SVG_NAMESPACE = 'http://www.w3.org/2000/svg';

/**
 * What the server asks for before a change of the second factor: a recent authentication (the
 * password, or a code from the app, again), or, while the app is on, a code from it in a session
 * that has not shown one (a password is no answer to that).
 */
type Reauthentication = 'recent' | 'second-factor';

function reauthenticationAsked(error: unknown): Reauthentication | null {
  if (!(error instanceof AuthApiError) || error.status !== 403) return null;
  if (error.message === 'Recent authentication required') return 'recent';
  if (error.message === 'Second factor required') return 'second-factor';
  return null;
}

const CODE_HINTS: Record<Reauthentication, string> = {
  recent: 'For your security, enter the code your authenticator app shows to continue.',
  'second-factor': 'This device signed in without your authenticator app. To continue, enter the code the app shows.',
};

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

/** What the account page hears from the section. */
export interface TwoFactorHooks {
  /** Turning the app on ended every other session of the user: the device list is out of date. */
  otherDevicesSignedOut?(): Promise<void>;
  /** The second factor changed (turned on or off, new recovery codes): the recent activity is out of date. */
  changed?(): Promise<void>;
}

/**
 * The account page's "Two-factor authentication" section: an authenticator app set up (QR code
 * and secret key), turned on with a code (which signs out the other devices), turned off;
 * recovery codes shown once. When the server asks for a re-authentication first, the password is
 * asked for (or a code from the app, when it is on), or only a code when the session has not
 * shown the app; then the same change runs again.
 */
export function twoFactorSection(
  { client, say }: PageContext,
  hooks: TwoFactorHooks = {},
): { refresh(): Promise<void>; withReauthentication(change: () => Promise<void>): Promise<void> } {
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
  const passwordForm = element<HTMLFormElement>('reauth-form');
  const codeForm = element<HTMLFormElement>('reauth-code-form');
  const codeHint = element<HTMLParagraphElement>('reauth-code-hint');
  const useCodeButton = element<HTMLButtonElement>('reauth-use-code');
  const usePasswordButton = element<HTMLButtonElement>('reauth-use-password');
  const usePasskeyButton = element<HTMLButtonElement>('reauth-use-passkey');

  /** The change that waits for a re-authentication (the last one asked for). */
  let awaitingReauthentication: (() => Promise<void>) | null = null;
  /** Whether the app is on, as last heard: only then can a code re-authenticate. */
  let totpOn = false;
  /** Whether the user has a passkey, as last heard: then one can re-authenticate too. */
  let hasPasskey = false;

  function showStatus(mfa: MfaStatus): void {
    totpOn = mfa.totp;
    hasPasskey = mfa.passkeys > 0;
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

  /** One re-authentication form shown (or none), its field focused. */
  function showReauthentication(shown: HTMLFormElement | null): void {
    for (const form of [passwordForm, codeForm]) {
      form.reset();
      form.hidden = form !== shown;
    }
    shown?.querySelector('input')?.focus();
  }

  /** The password, with a code from the app as the other way when it is on. */
  function askPassword(): void {
    useCodeButton.hidden = !totpOn;
    usePasskeyButton.hidden = !hasPasskey || !client.passkeysSupported();
    showReauthentication(passwordForm);
  }

  /** A code from the app; the password as the other way only when it would do. */
  function askCode(reason: Reauthentication): void {
    codeHint.textContent = CODE_HINTS[reason];
    usePasswordButton.hidden = reason !== 'recent';
    showReauthentication(codeForm);
  }

  /**
   * Runs a change; one refused for want of a re-authentication waits for it (the password or a
   * code, as the server asked), and runs again once it is confirmed.
   */
  async function withReauthentication(change: () => Promise<void>): Promise<void> {
    try {
      await change();
    } catch (error) {
      const asked = reauthenticationAsked(error);
      if (asked === null) throw error;
      awaitingReauthentication = change;
      say('');
      if (asked === 'second-factor') askCode(asked);
      else askPassword();
    }
  }

  /** A button's change, with its failure said. */
  function onClick(button: HTMLButtonElement, change: () => Promise<void>, confirmation?: string): void {
    button.addEventListener('click', () => {
      if (confirmation && !confirm(confirmation)) return;
      void withReauthentication(change).catch((error: unknown) => say(explain(error)));
    });
  }

  onClick(setupButton, async () => {
    const setup = await client.setupTotp();
    // The picture of the URL just answered: the same secret as the one shown beside it.
    qrCode.replaceChildren(qrCodeElement(await client.totpQrCode(setup.otpauthUrl)));
    secret.value = setup.secret;
    enrolment.hidden = false;
    setupButton.hidden = true;
    say('');
    enableForm.querySelector<HTMLInputElement>('input[name=code]')?.focus();
  });

  onSubmit(enableForm, async () => {
    try {
      await withReauthentication(async () => {
        const codes = await client.enableTotp(field(enableForm, 'code').trim());
        closeEnrolment();
        say('Two-factor authentication is on. Your other devices were signed out.');
        showRecoveryCodes(codes);
        await Promise.all([refreshStatus(), hooks.otherDevicesSignedOut?.(), hooks.changed?.()]);
      });
    } catch (error) {
      say(explain(error));
    }
  });

  onClick(newCodesButton, async () => {
    const codes = await client.regenerateRecoveryCodes();
    say('New recovery codes: the old ones no longer work.');
    showRecoveryCodes(codes);
    await Promise.all([refreshStatus(), hooks.changed?.()]);
  });

  onClick(
    disableButton,
    async () => {
      await client.disableTotp();
      codesPanel.hidden = true;
      codesList.replaceChildren();
      say('Two-factor authentication is off.');
      await Promise.all([refreshStatus(), hooks.changed?.()]);
    },
    'Turn off two-factor authentication? Signing in will need only your password.',
  );

  element<HTMLButtonElement>('recovery-codes-saved').addEventListener('click', () => {
    // Out of the page, not just out of sight.
    codesList.replaceChildren();
    codesPanel.hidden = true;
    status.focus();
  });

  /** A re-authentication form's proof: when accepted, the change that waited runs again. */
  async function reauthenticate(form: HTMLFormElement, proof: ReauthenticationProof): Promise<void> {
    try {
      await client.reauthenticate(proof);
    } catch (error) {
      say(explain(error));
      const input = form.querySelector('input');
      input?.focus();
      input?.select();
      return;
    }
    showReauthentication(null);
    say('');
    const change = awaitingReauthentication;
    awaitingReauthentication = null;
    if (change) await withReauthentication(change).catch((error: unknown) => say(explain(error)));
  }

  onSubmit(passwordForm, () => reauthenticate(passwordForm, { password: field(passwordForm, 'password') }));
  onSubmit(codeForm, () => reauthenticate(codeForm, { code: field(codeForm, 'code').trim() }));
  useCodeButton.addEventListener('click', () => askCode('recent'));
  usePasskeyButton.addEventListener('click', () => {
    usePasskeyButton.disabled = true;
    void reauthenticate(passwordForm, { passkey: true }).finally(() => {
      usePasskeyButton.disabled = false;
    });
  });
  usePasswordButton.addEventListener('click', askPassword);

  for (const cancel of document.querySelectorAll<HTMLButtonElement>('.reauth-cancel')) {
    cancel.addEventListener('click', () => {
      awaitingReauthentication = null;
      showReauthentication(null);
      say('');
    });
  }

  return { refresh: refreshStatus, withReauthentication };
}
