import { DEFAULTS } from '../auth.constants.js';
import type { AuthMailOptions } from '../auth-module-options.interface.js';
import type { MailTransport } from './mail-transport.interface.js';
import { KeyEncryption } from '../keys/key-encryption.js';

/** Injection token of the resolved mail settings (null: the module sends no mail). */
export const AUTH_MAIL_SETTINGS = Symbol('AUTH_MAIL_SETTINGS');

export interface MailSettings {
  transport: MailTransport;
  from: string;
  appName: string;
  /** `<publicUrl><pagesPath>`, without a trailing slash: the account pages. */
  pagesUrl: string;
  /**
   * Encrypts the bodies of the mails waiting in the outbox: they carry a live link, and the
   * database must never hold a usable token.
   */
  encryption: KeyEncryption;
  /** Mails sent at once by this instance. */
  concurrency: number;
}

/** Mails each instance sends at once, unless `mail.concurrency` says otherwise. */
export const DEFAULT_MAIL_CONCURRENCY = 4;

export function resolveMailSettings(
  mail: AuthMailOptions | undefined,
  keyEncryptionSecret: string | Buffer | undefined,
): MailSettings | null {
  if (!mail) return null;
  // resolveAuthOptions has refused mail without it.
  const encryption = new KeyEncryption(keyEncryptionSecret as string | Buffer, 'mail outbox encryption');
  const base = mail.publicUrl.replace(/\/+$/, '');
  const path = `/${(mail.pagesPath ?? DEFAULTS.accountPagesPath).replace(/^\/+|\/+$/g, '')}`.replace(/\/$/, '');
  return {
    transport: mail.transport,
    from: mail.from,
    appName: mail.appName ?? 'your account',
    pagesUrl: `${base}${path}`,
    encryption,
    concurrency: mail.concurrency ?? DEFAULT_MAIL_CONCURRENCY,
  };
}
