import type { Device } from '../client.js';
import { activitySection } from './activity.js';
import { identitiesSection } from './identities.js';
import { passkeysSection } from './passkeys.js';
import { twoFactorSection } from './two-factor.js';
import { explain, field, onSubmit, pageContext } from './ui.js';

const context = pageContext();
const { client, base, say } = context;
const activity = activitySection(context);

/**
 * After a change made on this page, the recent activity shows its events. A failure to read them
 * leaves the list as it was, and the change's own message in place.
 */
function refreshActivity(): Promise<void> {
  return activity.refresh().catch(() => undefined);
}

// Turning the app on signs out every other device: the list shows it at once.
const twoFactor = twoFactorSection(context, {
  otherDevicesSignedOut: () => refreshDevices(),
  changed: refreshActivity,
});
// Adding and removing a passkey ask for a recent authentication through the same forms.
const passkeys = passkeysSection(context, {
  withReauthentication: (change) => twoFactor.withReauthentication(change),
  changed: async () => {
    await Promise.all([twoFactor.refresh(), refreshActivity()]);
  },
});

// Connecting a provider asks for a recent authentication through the same forms.
const identities = identitiesSection(context, {
  withReauthentication: (change) => twoFactor.withReauthentication(change),
  changed: refreshActivity,
});

// Back from a provider with a failed connection.
const oidcError = new URLSearchParams(location.search).get('oidc_error');
if (oidcError) {
  history.replaceState(null, '', location.pathname);
  say(
    oidcError === 'identity_in_use'
      ? 'That account is already connected to another account here.'
      : 'The account could not be connected. Try again.',
  );
}

// Signed out in another tab, elsewhere (device revoked, password changed, account deleted), or here.
client.onSignedOut((reason) => {
  location.assign(`${base}/sign-in?${reason === 'session-ended' ? 'ended' : 'signed-out'}=1`);
});

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** One list item per device; every value is text (device names and user agents are attacker-chosen). */
function deviceItem(device: Device): HTMLLIElement {
  const item = document.createElement('li');
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = device.deviceName ?? 'Unknown device';
  item.append(name);
  if (device.current) {
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = 'This device';
    item.append(badge);
  }
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = `IP ${device.ip ?? 'unknown'} · signed in ${when(device.createdAt)} · last activity ${when(device.lastUsedAt)}`;
  item.append(meta);
  if (!device.current) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = 'Sign out';
    button.setAttribute('aria-label', `Sign out ${device.deviceName ?? 'this unknown device'}`);
    button.addEventListener('click', () => {
      if (!confirm(`Sign out ${device.deviceName ?? 'this device'}?`)) return;
      void client
        .revokeDevice(device.id)
        .then(() => Promise.all([refreshDevices(), refreshActivity()]))
        .catch((error: unknown) => say(explain(error)));
    });
    item.append(button);
  }
  return item;
}

async function refreshDevices(): Promise<void> {
  const devices = await client.devices();
  // The current one first, then the most recently active.
  devices.sort((a, b) => Number(b.current) - Number(a.current) || b.lastUsedAt.localeCompare(a.lastUsedAt));
  document.getElementById('devices')?.replaceChildren(...devices.map(deviceItem));
}

function showEmailStatus(verified: boolean, email: string): void {
  const status = document.getElementById('email-status');
  if (status) status.textContent = verified ? 'Email verified' : 'Email not verified';
  const resend = document.getElementById('resend-verification') as HTMLButtonElement | null;
  if (!resend) return;
  resend.hidden = verified;
  resend.onclick = () => {
    resend.disabled = true;
    client
      .resendVerification(email)
      .then(() => say(`A new verification link is on its way to ${email}.`))
      .catch((error: unknown) => say(explain(error)))
      .finally(() => {
        resend.disabled = false;
      });
  };
}

async function start(): Promise<void> {
  // Signed in by the server (a provider's sign-in came back here with the session cookies): taken up.
  if (!client.isSignedIn() && !(await client.resumeSession().catch(() => false))) {
    location.assign(`${base}/sign-in`);
    return;
  }
  try {
    const me = await client.me();
    const email = document.getElementById('email');
    if (email) email.textContent = me.email;
    showEmailStatus(me.emailVerified, me.email);
    await Promise.all([
      refreshDevices(),
      twoFactor.refresh(),
      passkeys.refresh(),
      identities.refresh(),
      activity.refresh(),
    ]);
  } catch (error) {
    say(explain(error));
  }
}

function onClick(id: string, action: () => Promise<void>): void {
  document
    .getElementById(id)
    ?.addEventListener('click', () => void action().catch((error: unknown) => say(explain(error))));
}

onClick('sign-out-others', async () => {
  await client.signOutOthers();
  await Promise.all([refreshDevices(), refreshActivity()]);
  say('Every other device is signed out.');
});
onClick('sign-out-everywhere', () => client.signOutEverywhere());
onClick('sign-out', () => client.signOut());

const passwordForm = document.getElementById('password-form') as HTMLFormElement;
onSubmit(passwordForm, async () => {
  try {
    await client.changePassword(field(passwordForm, 'currentPassword'), field(passwordForm, 'newPassword'));
    passwordForm.reset();
    say('Password changed. Your other devices were signed out.');
    await Promise.all([refreshDevices(), refreshActivity()]);
  } catch (error) {
    say(explain(error));
  }
});

const deleteForm = document.getElementById('delete-form') as HTMLFormElement;
onSubmit(deleteForm, async () => {
  if (!confirm('Delete your account? This cannot be undone.')) return;
  try {
    await client.deleteAccount(field(deleteForm, 'password'));
  } catch (error) {
    say(explain(error));
  }
});

void start();
