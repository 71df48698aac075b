import { fileURLToPath } from 'node:url';
import { type DynamicModule, Module } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { AccountPagesController } from './account-pages.controller.js';
import {
  ACCOUNT_PAGES_OPTIONS,
  type AccountPagesOptions,
  type ResolvedAccountPagesOptions,
} from './account-pages.options.js';

/**
 * Opt-in account pages (sign in, sign up, devices, password, deletion) for apps that use the
 * cookie transport. `AccountPagesModule.forRoot()` mounts them at /account, beside AuthModule.
 */
@Module({})
export class AccountPagesModule {
  static forRoot(options: AccountPagesOptions = {}): DynamicModule {
    const path = (options.path ?? 'account').replace(/^\/+|\/+$/g, '');
    const resolved: ResolvedAccountPagesOptions = {
      path,
      authPath: `/${(options.authPath ?? 'auth').replace(/^\/+|\/+$/g, '')}`,
      appName: options.appName ?? 'Account',
      // The browser scripts are compiled beside the library: lib/src/browser (dist/src/browser in this repository).
      scriptsDir: fileURLToPath(new URL('../../browser/', import.meta.url)),
    };
    return {
      module: AccountPagesModule,
      controllers: [AccountPagesController],
      providers: [{ provide: ACCOUNT_PAGES_OPTIONS, useValue: resolved }],
      imports: [RouterModule.register([{ path, module: AccountPagesModule }])],
    };
  }
}
