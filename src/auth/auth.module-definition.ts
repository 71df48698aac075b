import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AuthModuleOptions } from './auth-module-options.interface.js';

/** Options known when the module is declared, for forRoot and forRootAsync alike. */
export interface AuthModuleExtras {
  /** Prefix of the module's routes. Default `auth`. */
  routePrefix?: string;
}

export const {
  ConfigurableModuleClass: ConfigurableAuthModule,
  MODULE_OPTIONS_TOKEN: AUTH_MODULE_OPTIONS,
  OPTIONS_TYPE: AUTH_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: AUTH_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AuthModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras<AuthModuleExtras>({ routePrefix: 'auth' }, (definition) => definition)
  .build();
