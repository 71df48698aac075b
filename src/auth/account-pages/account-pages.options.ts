/** Options of AccountPagesModule.forRoot. */
export interface AccountPagesOptions {
  /** Where the pages are mounted. Default 'account' (/account, /account/sign-in, /account/sign-up). */
  path?: string;
  /** The module's API prefix, as the browser reaches it. Default '/auth'. */
  authPath?: string;
  /** Shown in the pages' titles. Default 'Account'. */
  appName?: string;
}

export interface ResolvedAccountPagesOptions {
  path: string;
  authPath: string;
  appName: string;
  /** Directory of the compiled browser scripts (client and pages). */
  scriptsDir: string;
}

export const ACCOUNT_PAGES_OPTIONS = Symbol('ACCOUNT_PAGES_OPTIONS');
