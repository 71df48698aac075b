import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AuthVerifierOptions } from './auth-verifier-options.interface.js';

export const {
  ConfigurableModuleClass: ConfigurableAuthVerifierModule,
  MODULE_OPTIONS_TOKEN: AUTH_VERIFIER_OPTIONS,
  OPTIONS_TYPE: AUTH_VERIFIER_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: AUTH_VERIFIER_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AuthVerifierOptions>().setClassMethodName('forRoot').build();
