import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyDecorators, Controller, Get, Header, Inject, NotFoundException, Param } from '@nestjs/common';
import { Public } from '../tokens/public.decorator.js';
import { ACCOUNT_PAGES_OPTIONS, type ResolvedAccountPagesOptions } from './account-pages.options.js';
import {
  ACCOUNT_CSS,
  accountPage,
  forgotPasswordPage,
  resetPasswordPage,
  securePage,
  signInPage,
  signUpPage,
  verifyEmailPage,
} from './pages.js';

/**
 * Strict: scripts, styles and requests from this origin only, no inline script or style, no
 * framing, no plugins, no <base>, forms post here only.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every page and asset: nothing cached, sniffed, framed or referred. */
function Served(contentType: string): MethodDecorator {
  return applyDecorators(
    Header('Content-Type', contentType),
    Header('Content-Security-Policy', CONTENT_SECURITY_POLICY),
    Header('X-Content-Type-Options', 'nosniff'),
    Header('X-Frame-Options', 'DENY'),
    Header('Referrer-Policy', 'no-referrer'),
    Header('Cache-Control', 'no-store'),
  );
}

const HTML = 'text/html; charset=utf-8';
const JAVASCRIPT = 'text/javascript; charset=utf-8';

/** The compiled scripts a page may load, and nothing else of the directory. */
const PAGE_SCRIPTS = new Set([
  'sign-in.js',
  'sign-up.js',
  'account.js',
  'two-factor.js',
  'passkeys.js',
  'identities.js',
  'activity.js',
  'forgot-password.js',
  'reset-password.js',
  'verify-email.js',
  'secure.js',
  'ui.js',
]);

/** The account pages: plain HTML, CSS and ES modules, open to anyone (they call the API themselves). */
@Public()
@Controller()
export class AccountPagesController {
  private readonly scripts = new Map<string, Promise<string>>();

  constructor(@Inject(ACCOUNT_PAGES_OPTIONS) private readonly options: ResolvedAccountPagesOptions) {}

  @Get()
  @Served(HTML)
  account(): string {
    return accountPage(this.options);
  }

  @Get('sign-in')
  @Served(HTML)
  signIn(): string {
    return signInPage(this.options);
  }

  @Get('sign-up')
  @Served(HTML)
  signUp(): string {
    return signUpPage(this.options);
  }

  @Get('forgot-password')
  @Served(HTML)
  forgotPassword(): string {
    return forgotPasswordPage(this.options);
  }

  /** The link of a reset mail; the page reads its token (the policy keeps it out of any Referer). */
  @Get('reset-password')
  @Served(HTML)
  resetPassword(): string {
    return resetPasswordPage(this.options);
  }

  /** The link of a verification mail. */
  @Get('verify-email')
  @Served(HTML)
  verifyEmail(): string {
    return verifyEmailPage(this.options);
  }

  /** The "This wasn't me" link of a new-device alert (its token, too, kept out of any Referer). */
  @Get('secure')
  @Served(HTML)
  secure(): string {
    return securePage(this.options);
  }

  @Get('assets/account.css')
  @Served('text/css; charset=utf-8')
  styles(): string {
    return ACCOUNT_CSS;
  }

  @Get('assets/client.js')
  @Served(JAVASCRIPT)
  client(): Promise<string> {
    return this.script('client.js');
  }

  @Get('assets/pages/:name')
  @Served(JAVASCRIPT)
  pageScript(@Param('name') name: string): Promise<string> {
    if (!PAGE_SCRIPTS.has(name)) throw new NotFoundException();
    return this.script(`pages/${name}`);
  }

  /** Read once; a missing file (scripts not built) is a 404, not a 500. */
  private script(file: string): Promise<string> {
    let loaded = this.scripts.get(file);
    if (!loaded) {
      loaded = readFile(join(this.options.scriptsDir, file), 'utf8').catch(() => {
        this.scripts.delete(file);
        throw new NotFoundException();
      });
      this.scripts.set(file, loaded);
    }
    return loaded;
  }
}
