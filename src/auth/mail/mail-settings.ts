import { DEFAULTS } from '../auth.constants.js';
import type { AuthMailOptions } from '../interfaces/auth-module-options.interface.js';
import type { MailTransport } from '../interfaces/mail-transport.interface.js';

/** Injection token of the resolved mail settings (null: the module sends no mail). */
export const AUTH_MAIL_SETTINGS = Symbol('AUTH_MAIL_SETTINGS');

export interface MailSettings {
  transport: MailTransport;
  from: string;
  appName: string;
  /** `<publicUrl><pagesPath>`, without a trailing slash: the account pages. */
  pagesUrl: string;
}

export function resolveMailSettings(mail: AuthMailOptions | undefined): MailSettings | null {
  if (!mail) return null;
  const base = mail.publicUrl.replace(/\/+$/, '');
  const path = `/${(mail.pagesPath ?? DEFAULTS.accountPagesPath).replace(/^\/+|\/+$/g, '')}`.replace(/\/$/, '');
  return {
    transport: mail.transport,
    from: mail.from,
    appName: mail.appName ?? 'your account',
    pagesUrl: `${base}${path}`,
  };
}
