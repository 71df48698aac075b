import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule } from '../auth.module.js';
import { AUTH_MODULE_OPTIONS } from '../auth.module-definition.js';
import { AUTH_RESOLVED_OPTIONS, issuerKeySettings, resolveAuthOptions } from '../auth-options.js';
import { AUTH_ENTITIES } from '../auth.entities.js';
import type { AuthModuleOptions, ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { AUTH_KEY_SETTINGS } from '../keys/signing-keys.service.js';
import { AUTH_LISTENER_ENABLED } from '../notifications/notification-listener.service.js';
import { formatSecurityEvent } from '../security-events/security-events.service.js';
import type { OperatorEnvironment } from './operator-environment.js';

@Module({})
class AuthOperatorModule {}

/**
 * The module as the CLI runs it: AuthModule with its own connection, in the `operator` role. It
 * never signs, so it creates no key at start (an app with other key settings would then sign with
 * a key the operator made by accident) and needs a secret only for the key commands; it never
 * schedules the purge, and it does not listen (what it changes, it announces). Its security
 * events (a ban, a logout-all) go to stderr, one JSON line each.
 */
export function operatorModule(environment: OperatorEnvironment): DynamicModule {
  // The secrets, the algorithm and the lifetimes are module options of the same names.
  // (The new key-encryption secret of `keys reencrypt` is the command's, never a module option.)
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { databaseUrl, newKeyEncryptionSecret, ...given } = environment;
  const options: AuthModuleOptions = {
    ...given,
    purgeCron: false,
    securityEvents: {
      handle: (event) => {
        process.stderr.write(`${formatSecurityEvent(event)}\n`);
      },
    },
  };
  const auth = AuthModule.forRoot(options);
  return {
    module: AuthOperatorModule,
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url: databaseUrl,
        entities: AUTH_ENTITIES,
        // One try, a quick answer: an operator at a terminal, not a service waiting for its database.
        retryAttempts: 0,
        connectTimeoutMS: 5_000,
        logging: false,
      }),
      {
        ...auth,
        // Providers given later replace those of the same token: the operator role for both.
        providers: [
          ...(auth.providers ?? []),
          {
            provide: AUTH_RESOLVED_OPTIONS,
            inject: [AUTH_MODULE_OPTIONS],
            useFactory: (given: AuthModuleOptions) => resolveAuthOptions(given, 'operator'),
          },
          // No LISTEN connection, no revocation state loaded: the CLI checks no token, so it starts
          // as fast with a million denylist rows as with none, and works behind a pooler.
          { provide: AUTH_LISTENER_ENABLED, useValue: false },
          {
            provide: AUTH_KEY_SETTINGS,
            inject: [AUTH_MODULE_OPTIONS, AUTH_RESOLVED_OPTIONS],
            useFactory: (given: AuthModuleOptions, resolved: ResolvedAuthOptions) =>
              issuerKeySettings(given, resolved, 'operator'),
          },
        ],
      },
    ],
  };
}
