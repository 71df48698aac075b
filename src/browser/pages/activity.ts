import type { ActivityEvent, ActivityPage } from '../client.js';
import { explain, type PageContext } from './ui.js';

/** A name the API gives (`session_limit`), readable: "session limit". */
function readable(name: string): string {
  return name.replace(/[_-]+/g, ' ').trim();
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The API's reasons in words, as said in parentheses after what happened. */
const REASONS: Record<string, string> = {
  bad_credentials: 'wrong password',
  wrong_current_password: 'wrong password',
  suspended: 'account suspended',
  email_not_verified: 'email address not confirmed',
  password_changed_meanwhile: 'the password had just changed',
  wrong_code: 'wrong authentication code',
  challenge_exhausted: 'too many wrong authentication codes',
  password_change: 'password changed',
  password_reset: 'password reset',
  refresh_token_reuse: 'a stolen sign-in was suspected',
  session_limit: 'too many signed-in devices',
  user_banned: 'account suspended',
  account_deleted: 'account deleted',
  roles_changed: 'roles changed',
  account_secured: 'account secured',
  mfa_reset: 'two-factor authentication reset',
  operator_reset: 'reset by an administrator',
  admin_reset: 'reset by an administrator',
};

/** "What happened (why)", the why left out when the event gives none. */
function because(what: string, reason: string | null): string {
  return reason ? `${what} (${REASONS[reason] ?? readable(reason)})` : what;
}

/** What happened, in plain words; a kind this page does not know yet, from its name. */
function describeEvent({ type, reason }: ActivityEvent): string {
  switch (type) {
    case 'user_registered':
      return 'Account created';
    case 'login_succeeded':
      return 'Signed in';
    case 'login_failed':
      // The password asked before a change (or the deletion), not a sign-in.
      if (reason === 'wrong_current_password') return 'Wrong password given to confirm a change';
      return because('Failed sign-in', reason);
    case 'mfa_challenge_failed':
      if (reason === 'reauthentication') return 'Wrong authentication code given to confirm a change';
      return because('Failed sign-in', reason ?? 'wrong_code');
    case 'refresh_reuse_detected':
      return 'Possible stolen sign-in detected: that session was ended';
    case 'password_changed':
      return 'Password changed';
    case 'password_reset':
      return 'Password reset from an email link';
    case 'email_verified':
      return 'Email address confirmed';
    case 'mfa_enabled':
      return 'Two-factor authentication turned on';
    case 'mfa_disabled':
      return because('Two-factor authentication turned off', reason);
    case 'recovery_codes_regenerated':
      return 'New recovery codes created';
    case 'recovery_code_used':
      return 'Recovery code used to sign in';
    case 'passkey_added':
      return 'Passkey added';
    case 'passkey_removed':
      return 'Passkey removed';
    // The reason of these two is the provider's id.
    case 'identity_linked':
      return reason ? `Connected account added (${reason})` : 'Connected account added';
    case 'identity_unlinked':
      return reason ? `Connected account removed (${reason})` : 'Connected account removed';
    case 'session_revoked':
      if (reason === null || reason === 'logout') return 'Signed out';
      if (reason === 'device_revoked') return 'Device signed out';
      return because('Signed out', reason);
    case 'logout_all':
      return because('Signed out of every device', reason);
    case 'user_banned':
      return 'Account suspended';
    case 'user_unbanned':
      return 'Account suspension lifted';
    case 'roles_changed':
      return 'Roles changed';
    case 'new_device_alert':
      return 'Sign-in from a new device';
    case 'account_secured':
      return 'Account secured from a new-sign-in email: every device signed out';
    default:
      return because(capitalized(readable(type)) || 'Account event', reason);
  }
}

/**
 * The account page's "Recent activity" section: the user's own security events, newest first
 * (what happened in words, when, the device's name and the IP address, this session's marked),
 * 20 at a time, with **Show more** while there are older ones. Every value is written as text:
 * device names are chosen by whoever signed in.
 */
export function activitySection({ client, say }: PageContext): { refresh(): Promise<void> } {
  const list = document.getElementById('activity') as HTMLUListElement;
  const empty = document.getElementById('activity-empty') as HTMLParagraphElement;
  const more = document.getElementById('activity-more') as HTMLButtonElement;
  let nextCursor: string | null = null;
  /** Bumped by each refresh: a page asked for before it is not appended to the new list. */
  let generation = 0;

  function item(event: ActivityEvent): HTMLLIElement {
    const entry = document.createElement('li');
    const what = document.createElement('span');
    what.className = 'name';
    what.textContent = describeEvent(event);
    entry.append(what);
    if (event.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'This device';
      entry.append(badge);
    }
    const meta = document.createElement('div');
    meta.className = 'meta';
    const time = document.createElement('time');
    time.dateTime = event.at;
    time.textContent = new Date(event.at).toLocaleString();
    meta.append(time);
    const details = [event.deviceName, event.ip === null ? null : `IP ${event.ip}`].filter(
      (detail): detail is string => detail !== null && detail !== '',
    );
    if (details.length > 0) meta.append(` · ${details.join(' · ')}`);
    entry.append(meta);
    return entry;
  }

  function show(page: ActivityPage, append: boolean): HTMLLIElement[] {
    const items = page.events.map(item);
    if (append) list.append(...items);
    else list.replaceChildren(...items);
    nextCursor = page.nextCursor;
    more.hidden = nextCursor === null;
    empty.hidden = list.childElementCount > 0;
    return items;
  }

  /** The newest page again (after a change on this page, which adds events). */
  async function refresh(): Promise<void> {
    generation += 1;
    const mine = generation;
    const page = await client.activity();
    if (mine === generation) show(page, false);
  }

  more.addEventListener('click', () => {
    if (nextCursor === null) return;
    const mine = generation;
    more.disabled = true;
    client
      .activity(nextCursor)
      .then((page) => {
        if (mine !== generation) return;
        const added = show(page, true);
        // The button went with the last page: the reader carries on at the first older entry.
        const first = added[0];
        if (more.hidden && first) {
          first.tabIndex = -1;
          first.focus();
        }
      })
      .catch((error: unknown) => say(explain(error)))
      .finally(() => {
        more.disabled = false;
      });
  });

  return { refresh };
}
