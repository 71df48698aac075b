import { AuthApiError, type Passkey } from '../client.js';
import { explain, field, type PageContext } from './ui.js';

/** What the passkeys section needs of the account page. */
export interface PasskeysHooks {
  /** Runs a change; one refused for want of a recent authentication asks for it, then runs again. */
  withReauthentication(change: () => Promise<void>): Promise<void>;
  /** The passkeys changed (the re-authentication form offers one only when there is one). */
  changed?(): Promise<void>;
}

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/**
 * The account page's "Passkeys" section: the user's passkeys (names as text: the user chose
 * them), added on this device, renamed, removed (confirmed). Adding and removing need a recent
 * authentication: the page's re-authentication form asks for it, then the change runs again.
 */
export function passkeysSection({ client, say }: PageContext, hooks: PasskeysHooks): { refresh(): Promise<void> } {
  const section = document.getElementById('passkeys-section') as HTMLElement;
  const list = document.getElementById('passkeys') as HTMLUListElement;
  const status = document.getElementById('passkeys-status') as HTMLParagraphElement;
  const addButton = document.getElementById('passkey-add') as HTMLButtonElement;

  if (!client.passkeysSupported()) {
    addButton.hidden = true;
    status.textContent = 'This browser cannot create passkeys here.';
  }

  function run(change: () => Promise<void>): Promise<void> {
    return hooks.withReauthentication(change).catch((error: unknown) => say(explain(error)));
  }

  function renameForm(item: HTMLLIElement, passkey: Passkey): HTMLFormElement {
    const form = document.createElement('form');
    const label = document.createElement('label');
    label.htmlFor = `passkey-rename-${passkey.id}`;
    label.textContent = 'Passkey name';
    const input = document.createElement('input');
    input.id = label.htmlFor;
    input.name = 'name';
    input.type = 'text';
    input.required = true;
    input.maxLength = 100;
    input.autocomplete = 'off';
    input.value = passkey.name;
    const save = document.createElement('button');
    save.type = 'submit';
    save.textContent = 'Save';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.className = 'secondary';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => {
      item.replaceWith(passkeyItem(passkey));
    });
    form.append(label, input, save, cancel);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      save.disabled = true;
      client
        .renamePasskey(passkey.id, field(form, 'name').trim())
        .then(async (renamed) => {
          say(`Passkey renamed to ${renamed.name}.`);
          await refresh();
        })
        .catch((error: unknown) => {
          say(explain(error));
          save.disabled = false;
        });
    });
    return form;
  }

  /** One list item per passkey; every value is text. */
  function passkeyItem(passkey: Passkey): HTMLLIElement {
    const item = document.createElement('li');
    const name = document.createElement('span');
    name.className = 'name';
    name.id = `passkey-name-${passkey.id}`;
    name.textContent = passkey.name;
    const meta = document.createElement('div');
    meta.className = 'meta';
    meta.textContent = `Added ${when(passkey.createdAt)} · ${passkey.lastUsedAt ? `last used ${when(passkey.lastUsedAt)}` : 'never used'}`;
    const actions = document.createElement('div');
    actions.className = 'actions';
    const rename = document.createElement('button');
    rename.type = 'button';
    rename.className = 'secondary';
    rename.textContent = 'Rename';
    rename.setAttribute('aria-describedby', name.id);
    rename.addEventListener('click', () => {
      const form = renameForm(item, passkey);
      item.replaceChildren(form);
      form.querySelector('input')?.select();
    });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-describedby', name.id);
    remove.addEventListener('click', () => {
      if (!confirm(`Remove the passkey “${passkey.name}”? It will no longer sign you in.`)) return;
      void run(async () => {
        await client.removePasskey(passkey.id);
        say(`Passkey ${passkey.name} removed.`);
        await refresh();
        await hooks.changed?.();
      });
    });
    actions.append(rename, remove);
    item.append(name, meta, actions);
    return item;
  }

  async function refresh(): Promise<void> {
    let passkeys: Passkey[];
    try {
      passkeys = await client.listPasskeys();
    } catch (error) {
      // Passkeys are not configured on this server: no section.
      if (error instanceof AuthApiError && error.status === 404) {
        section.hidden = true;
        return;
      }
      throw error;
    }
    list.replaceChildren(...passkeys.map(passkeyItem));
  }

  addButton.addEventListener('click', () => {
    addButton.disabled = true;
    void run(async () => {
      const added = await client.addPasskey();
      say(`Passkey added: ${added.name}. Rename it so that you can tell it from others.`);
      await refresh();
      await hooks.changed?.();
    }).finally(() => {
      addButton.disabled = false;
    });
  });

  return { refresh };
}
