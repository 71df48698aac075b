import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS, resolveAuthOptions } from '../auth-options.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { AuthVerifierOptions } from './auth-verifier-options.interface.js';
import { AUTH_KEY_SOURCE, JwksKeySource } from '../keys/jwks-key-source.js';
import { AUTH_KEY_SETTINGS, type KeySettings, SigningKeys } from '../keys/signing-keys.service.js';
import { SystemClock } from '../common/clock.provider.js';
import { AccountTokenRepository } from '../recovery/account-token.repository.js';
import { dropResetLinks } from '../recovery/account-token.repository.js';
import { RevocationStateRepository } from '../revocation/revocation-state.repository.js';
import { USER_CUTOFF_HOOKS } from '../revocation/user-cutoff-hooks.js';
import { RevocationRepository } from '../revocation/revocation.repository.js';
import { SigningKeyRepository } from '../keys/signing-key.repository.js';
import { RevocationService } from '../revocation/revocation.service.js';
import { NotificationListener } from '../notifications/notification-listener.service.js';
import { NotificationRepository } from '../notifications/notification.repository.js';
import { NotificationSigner } from '../notifications/notification-signer.js';
import { SigningKeysSubscriber } from '../keys/signing-keys.subscriber.js';
import { RevocationSyncService } from '../revocation/revocation-sync.service.js';
import { AuthEventRepository } from '../security-events/auth-event.repository.js';
import {
  AUTH_EVENT_STORE_ON,
  LogSecurityEventHandler,
  SECURITY_EVENT_HANDLER,
  SecurityEventsService,
} from '../security-events/security-events.service.js';
import { SessionActivityService } from '../sessions/session-activity.service.js';
import { JwtStrategy } from '../tokens/jwt.strategy.js';
import { TokenService } from '../tokens/token.service.js';
import { AUTH_VERIFIER_OPTIONS, ConfigurableAuthVerifierModule } from './auth-verifier.module-definition.js';

/** A verifier writes nothing: sessions' last use is the auth server's to record. */
const readOnlyActivity: Pick<SessionActivityService, 'touch' | 'remember'> = {
  touch: () => undefined,
  remember: () => undefined,
};

/**
 * The module in verify-only form, for the other services behind one auth server: no routes, no
 * private keys, no secrets. It checks access tokens with the public keys (signing_keys of the
 * shared database, or the auth server's JWKS URL) and follows revocation through the same
 * PostgreSQL exactly as the auth server's instances do: loaded at start, kept current by
 * LISTEN/NOTIFY, the database asked on every request whenever that is not live. The same
 * JwtAuthGuard, @Public(), @StrictRevocationCheck() and @CurrentUser() apply.
 *
 * The host provides the TypeORM connection to the auth server's database (a role that may SELECT
 * the module's tables is enough).
 */
@Module({
  imports: [PassportModule],
  providers: [
    {
      provide: AUTH_RESOLVED_OPTIONS,
      inject: [AUTH_VERIFIER_OPTIONS],
      useFactory: (options: AuthVerifierOptions) => resolveAuthOptions(options, 'verifier'),
    },
    {
      provide: AUTH_KEY_SETTINGS,
      inject: [AUTH_RESOLVED_OPTIONS],
      useFactory: (resolved: ResolvedAuthOptions): KeySettings => ({
        mode: 'verifier',
        algorithm: resolved.algorithm,
        // Only access tokens are checked here.
        verifyWindowSeconds: resolved.accessTokenTtl + resolved.clockTolerance,
      }),
    },
    {
      provide: AUTH_KEY_SOURCE,
      inject: [AUTH_VERIFIER_OPTIONS],
      useFactory: (options: AuthVerifierOptions) => (options.jwksUrl ? new JwksKeySource(options.jwksUrl) : undefined),
    },
    {
      provide: SECURITY_EVENT_HANDLER,
      inject: [AUTH_VERIFIER_OPTIONS],
      useFactory: (options: AuthVerifierOptions) => options.securityEvents ?? new LogSecurityEventHandler(),
    },
    { provide: SessionActivityService, useValue: readOnlyActivity },
    { provide: AUTH_CLOCK, useClass: SystemClock },
    SigningKeys,
    SigningKeyRepository,
    TokenService,
    RevocationService,
    // One LISTEN connection; the revocation state and the signing keys subscribe to it.
    NotificationListener,
    NotificationRepository,
    // Only `notificationSecret`: a verifier holds none of the signing secrets.
    {
      provide: NotificationSigner,
      inject: [AUTH_VERIFIER_OPTIONS],
      useFactory: (options: AuthVerifierOptions) =>
        NotificationSigner.fromOptions({ notificationSecret: options.notificationSecret }),
    },
    RevocationSyncService,
    SigningKeysSubscriber,
    RevocationRepository,
    // Its RevocationService can ban and log out everywhere: what ends with that ends here too.
    { provide: USER_CUTOFF_HOOKS, useValue: [dropResetLinks] },
    RevocationStateRepository,
    AccountTokenRepository,
    SecurityEventsService,
    AuthEventRepository,
    {
      provide: AUTH_EVENT_STORE_ON,
      inject: [AUTH_RESOLVED_OPTIONS],
      useFactory: (resolved: ResolvedAuthOptions) => resolved.eventStore,
    },
    JwtStrategy,
    JwtAuthGuard,
  ],
  exports: [JwtAuthGuard, RevocationService, RevocationSyncService, SigningKeys, TokenService, AUTH_CLOCK],
})
export class AuthVerifierModule extends ConfigurableAuthVerifierModule {}
