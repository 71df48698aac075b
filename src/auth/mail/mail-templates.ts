import type { RenderedMail } from '../recovery/account-token.repository.js';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

function render(subject: string, lines: string[], link: string, action: string, after: string): RenderedMail {
  const text = [...lines, '', link, '', after].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family: system-ui, sans-serif; line-height: 1.5">',
    ...lines.map((line) => `<p>${escapeHtml(line)}</p>`),
    `<p><a href="${escapeHtml(link)}">${escapeHtml(action)}</a></p>`,
    `<p style="color: #555">${escapeHtml(after)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** The password-reset mail: the link, how long it works, and what to do if it was not asked for. */
export function passwordResetMail(appName: string, link: string, ttlSeconds: number): RenderedMail {
  return render(
    `Reset your password for ${appName}`,
    [`Someone (we hope you) asked to reset the password of ${appName}.`, 'To choose a new password, open this link:'],
    link,
    'Set a new password',
    `The link works once, for ${duration(ttlSeconds)}. Setting a new password signs you out everywhere. If you did not ask for this, ignore this mail: your password stays as it is.`,
  );
}

/** The verification mail sent on registration and on request. */
export function emailVerificationMail(appName: string, link: string, ttlSeconds: number): RenderedMail {
  return render(
    `Confirm your email address for ${appName}`,
    [`Please confirm that this address belongs to the account you created for ${appName}:`],
    link,
    'Confirm my email address',
    `The link works once, for ${duration(ttlSeconds)}. If you did not create this account, ignore this mail.`,
  );
}

/** What a new-device alert says of the sign-in. */
export interface NewSignIn {
  /** The device's name as the session shows it (what the client sent, or its user agent's). */
  deviceName: string | null;
  /** The client's network (IPv4 /24, IPv6 /48), else null. */
  network: string | null;
  at: Date;
}

/**
 * The alert of a sign-in from a device not seen for the user: what, where, when, and the "This
 * wasn't me" link. The device name is whatever the signing-in client sent: quoted, never a link.
 */
export function newDeviceAlertMail(appName: string, link: string, signIn: NewSignIn, ttlSeconds: number): RenderedMail {
  return render(
    `New sign-in to your account on ${appName}`,
    [
      `Someone signed in to your ${appName} account from a device we had not seen before.`,
      `Device (as it named itself): “${mailSafeName(signIn.deviceName)}”`,
      `Network: ${signIn.network ?? 'unknown'}`,
      `Time: ${signIn.at
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC')}`,
      'If this was you, there is nothing to do. If it was not, open this link: it signs you out everywhere and sends you a link to set a new password.',
    ],
    link,
    "This wasn't me",
    `The link works once, for ${duration(ttlSeconds)}.`,
  );
}

/**
 * A client-chosen name fit for a security mail: control, format and line-separator characters
 * become spaces (no forged lines, no bidi tricks), a URL loses its scheme and its dots (no link a
 * mail client would make of a domain), at most 60 characters.
 */
function mailSafeName(name: string | null): string {
  if (!name) return 'unknown';
  const plain = name
    .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/[a-z][a-z0-9+.-]*:\/\//gi, '')
    // `evil.example/login` is a link to many mail clients; `evil․example` (a one-dot leader) is not.
    .replace(/\./g, '\u2024')
    .replace(/\s+/g, ' ')
    .trim();
  const short = [...plain].slice(0, 60).join('');
  return short || 'unknown';
}

function duration(seconds: number): string {
  if (seconds % 86_400 === 0) return seconds === 86_400 ? '24 hours' : `${seconds / 86_400} days`;
  if (seconds % 3600 === 0) return seconds === 3600 ? '1 hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? '1 minute' : `${seconds / 60} minutes`;
  return `${seconds} seconds`;
}
