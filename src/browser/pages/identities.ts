import type { Identity, OidcProvider } from '../client.js';
import { explain, type PageContext } from './ui.js';

/** What the connected-accounts section needs of the account page. */
export interface IdentitiesHooks {
  /** Runs a change; one refused for want of a recent authentication asks for it, then runs again. */
  withReauthentication(change: () => Promise<void>): Promise<void>;
  /** An account was disconnected: the recent activity is out of date. */
  changed?(): Promise<void>;
}

/**
 * The account page's "Connected accounts" section, shown when the server has OpenID Connect
 * providers: the accounts connected (names and addresses as text), **Disconnect** on each
 * (confirmed), and **Connect {name}** for each provider not connected yet, which goes to the
 * provider once the sign-in is recent enough (the re-authentication form asks otherwise).
 */
export function identitiesSection(
  { client, base, say }: PageContext,
  hooks: IdentitiesHooks,
): { refresh(): Promise<void> } {
  const section = document.getElementById('identities-section') as HTMLElement;
  const list = document.getElementById('identities') as HTMLUListElement;
  const connect = document.getElementById('identity-connect') as HTMLDivElement;
  let providers: OidcProvider[] = [];

  function item(identity: Identity): HTMLLIElement {
    const entry = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = identity.providerName;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = `${identity.email ?? 'no email address'} · connected ${new Date(identity.linkedAt).toLocaleString()}`;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = 'Disconnect';
    button.setAttribute('aria-label', `Disconnect ${identity.providerName}`);
    button.addEventListener('click', () => {
      if (!confirm(`Disconnect ${identity.providerName}? It will no longer sign you in.`)) return;
      void hooks
        .withReauthentication(async () => {
          await client.unlinkIdentity(identity.id);
          await Promise.all([refresh(), hooks.changed?.()]);
        })
        .catch((error: unknown) => say(explain(error)));
    });
    entry.append(name, meta, button);
    return entry;
  }

  async function refresh(): Promise<void> {
    providers = await client.oidcProviders();
    if (providers.length === 0) return;
    const identities = await client.listIdentities();
    section.hidden = false;
    list.replaceChildren(...identities.map(item));
    const connected = new Set(identities.map((identity) => identity.provider));
    connect.replaceChildren(
      ...providers
        .filter((provider) => !connected.has(provider.id))
        .map((provider) => {
          const button = document.createElement('button');
          button.type = 'button';
          button.textContent = `Connect ${provider.name}`;
          button.addEventListener('click', () => {
            void hooks
              .withReauthentication(() => client.connectProvider(provider.id, base || '/'))
              .catch((error: unknown) => say(explain(error)));
          });
          return button;
        }),
    );
  }

  return { refresh };
}
