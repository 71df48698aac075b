import { type DynamicModule, Module } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AUTH_CLOCK, DEFAULTS, PASSWORD_HASHER } from './auth.constants.js';
import { AuthController } from './login/auth.controller.js';
import {
  AUTH_ASYNC_OPTIONS_TYPE,
  AUTH_MODULE_OPTIONS,
  AUTH_OPTIONS_TYPE,
  ConfigurableAuthModule,
} from './auth.module-definition.js';
import { AUTH_RESOLVED_OPTIONS, issuerKeySettings, resolveAuthOptions } from './auth-options.js';
import { JwksModule } from './keys/jwks.module.js';
import { AUTH_KEY_ACTIVATION_DELAY, KeyRotationService } from './keys/key-rotation.service.js';
import { AUTH_KEY_SETTINGS, SigningKeys } from './keys/signing-keys.service.js';
import { SigningKeyRepository } from './keys/signing-key.repository.js';
import type { ResolvedAuthOptions } from './auth-module-options.interface.js';
import { AccountController } from './accounts/account.controller.js';
import { AccountService } from './accounts/account.service.js';
import { PasswordCheckService } from './accounts/password-check.service.js';
import { AuthService } from './login/auth.service.js';
import { SessionsService } from './sessions/sessions.service.js';
import { AUTH_MAIL_SETTINGS, resolveMailSettings } from './mail/mail-settings.js';
import { MailOutboxService } from './mail/mail-outbox.service.js';
import { AccountRecoveryController } from './recovery/account-recovery.controller.js';
import { AccountRecoveryService } from './recovery/account-recovery.service.js';
import { AccountTokenRepository, dropResetLinks } from './recovery/account-token.repository.js';
import { USER_CUTOFF_HOOKS } from './revocation/user-cutoff-hooks.js';
import { MailOutboxRepository } from './mail/mail-outbox.repository.js';
import { AUTH_ROUTE_PREFIX, CookieTransportService } from './cookies/cookie-transport.service.js';
import { SystemClock } from './common/clock.provider.js';
import { AUTH_ENTITIES } from './auth.entities.js';
import { JwtAuthGuard } from './tokens/jwt-auth.guard.js';
import type { AuthModuleOptions } from './auth-module-options.interface.js';
import { JwtStrategy } from './tokens/jwt.strategy.js';
import { LoginThrottleService } from './throttling/login-throttle.service.js';
import { Argon2PasswordHasher } from './common/password-hasher.provider.js';
import { PasswordCheckRepository } from './throttling/password-check.repository.js';
import { PurgeService } from './purge/purge.service.js';
import { LoginFailureRepository } from './throttling/login-failure.repository.js';
import { PurgeRepository } from './purge/purge.repository.js';
import { RateLimitRepository } from './throttling/rate-limit.repository.js';
import { RevocationStateRepository } from './revocation/revocation-state.repository.js';
import { RevocationRepository } from './revocation/revocation.repository.js';
import { SessionRepository } from './sessions/session.repository.js';
import { UserRepository } from './accounts/user.repository.js';
import { RevocationService } from './revocation/revocation.service.js';
import { NotificationListener } from './notifications/notification-listener.service.js';
import { NotificationRepository } from './notifications/notification.repository.js';
import { NotificationSigner } from './notifications/notification-signer.js';
import { SigningKeysSubscriber } from './keys/signing-keys.subscriber.js';
import { RevocationSyncService } from './revocation/revocation-sync.service.js';
import { RegistrationThrottleService } from './throttling/registration-throttle.service.js';
import { PasswordCheckBudgetService } from './throttling/password-check-budget.service.js';
import {
  LogSecurityEventHandler,
  AUTH_EVENT_STORE_ON,
  SECURITY_EVENT_HANDLER,
  SecurityEventsService,
} from './security-events/security-events.service.js';
import { NewDeviceAlertRepository } from './new-device-alerts/new-device-alert.repository.js';
import { NewDeviceAlertsService } from './new-device-alerts/new-device-alerts.service.js';
import { SecureAccountController } from './new-device-alerts/secure-account.controller.js';
import { AdminController } from './admin/admin.controller.js';
import { AdminRepository } from './admin/admin.repository.js';
import { AdminSecondFactorGuard } from './admin/admin-second-factor.guard.js';
import { AdminService } from './admin/admin.service.js';
import { RolesRepository } from './roles/roles.repository.js';
import { RolesService } from './roles/roles.service.js';
import { ActivityController } from './security-events/activity.controller.js';
import { ActivityService } from './security-events/activity.service.js';
import { AuthEventRepository } from './security-events/auth-event.repository.js';
import { SessionActivityService } from './sessions/session-activity.service.js';
import { SessionsController } from './sessions/sessions.controller.js';
import { TokenService } from './tokens/token.service.js';
import { MfaController } from './mfa/mfa.controller.js';
import { MfaRepository } from './mfa/mfa.repository.js';
import { MFA_SECRETS, MfaSecrets } from './mfa/mfa-secrets.js';
import { MfaService } from './mfa/mfa.service.js';
import { ReauthenticationController } from './step-up/reauthentication.controller.js';
import { ReauthenticationService } from './step-up/reauthentication.service.js';
import { PasskeysController } from './passkeys/passkeys.controller.js';
import { PasskeyRepository } from './passkeys/passkey.repository.js';
import { PasskeysService } from './passkeys/passkeys.service.js';
import { IdentitiesController, OidcController } from './oidc/oidc.controller.js';
import { OidcProvidersService } from './oidc/oidc-providers.service.js';
import { OidcRepository } from './oidc/oidc.repository.js';
import { OidcService } from './oidc/oidc.service.js';

/**
 * Issues and revokes access and refresh JWTs against PostgreSQL. The host provides the TypeORM
 * connection (with AUTH_ENTITIES and AUTH_MIGRATIONS); the module mounts its routes under
 * `routePrefix` (default `auth`).
 */
@Module({
  imports: [TypeOrmModule.forFeature(AUTH_ENTITIES), PassportModule],
  controllers: [
    AuthController,
    AccountController,
    SessionsController,
    AccountRecoveryController,
    MfaController,
    ReauthenticationController,
    PasskeysController,
    OidcController,
    IdentitiesController,
    ActivityController,
    AdminController,
    SecureAccountController,
  ],
  providers: [
    {
      provide: AUTH_RESOLVED_OPTIONS,
      inject: [AUTH_MODULE_OPTIONS],
      useFactory: (options: AuthModuleOptions) => resolveAuthOptions(options),
    },
    {
      provide: AUTH_KEY_SETTINGS,
      inject: [AUTH_MODULE_OPTIONS, AUTH_RESOLVED_OPTIONS],
      useFactory: (options: AuthModuleOptions, resolved: ResolvedAuthOptions) => issuerKeySettings(options, resolved),
    },
    {
      provide: AUTH_KEY_ACTIVATION_DELAY,
      inject: [AUTH_RESOLVED_OPTIONS],
      useFactory: (resolved: ResolvedAuthOptions) => resolved.keyActivationDelay,
    },
    SigningKeys,
    KeyRotationService,
    SigningKeyRepository,
    {
      provide: AUTH_MAIL_SETTINGS,
      inject: [AUTH_MODULE_OPTIONS],
      useFactory: (options: AuthModuleOptions) => resolveMailSettings(options.mail, options.keyEncryptionSecret),
    },
    MailOutboxService,
    AccountRecoveryService,
    AccountTokenRepository,
    // What ends with a user's sessions, in the same transaction (see USER_CUTOFF_HOOKS).
    { provide: USER_CUTOFF_HOOKS, useValue: [dropResetLinks] },
    MailOutboxRepository,
    {
      provide: SECURITY_EVENT_HANDLER,
      inject: [AUTH_MODULE_OPTIONS],
      useFactory: (options: AuthModuleOptions) => options.securityEvents ?? new LogSecurityEventHandler(),
    },
    { provide: AUTH_CLOCK, useClass: SystemClock },
    { provide: PASSWORD_HASHER, useClass: Argon2PasswordHasher },
    TokenService,
    RevocationService,
    // One LISTEN connection; the revocation state and the signing keys subscribe to it.
    NotificationListener,
    NotificationRepository,
    {
      provide: NotificationSigner,
      inject: [AUTH_MODULE_OPTIONS],
      useFactory: (options: AuthModuleOptions) => NotificationSigner.fromOptions(options),
    },
    RevocationSyncService,
    SigningKeysSubscriber,
    AuthService,
    AccountService,
    PasswordCheckService,
    MfaService,
    MfaRepository,
    {
      provide: MFA_SECRETS,
      inject: [AUTH_MODULE_OPTIONS],
      useFactory: (options: AuthModuleOptions) => MfaSecrets.from(options.keyEncryptionSecret),
    },
    ReauthenticationService,
    PasskeysService,
    PasskeyRepository,
    OidcProvidersService,
    OidcRepository,
    OidcService,
    SessionsService,
    PurgeService,
    LoginThrottleService,
    RegistrationThrottleService,
    PasswordCheckBudgetService,
    SecurityEventsService,
    AuthEventRepository,
    ActivityService,
    RolesService,
    RolesRepository,
    AdminService,
    AdminRepository,
    AdminSecondFactorGuard,
    NewDeviceAlertsService,
    NewDeviceAlertRepository,
    {
      provide: AUTH_EVENT_STORE_ON,
      inject: [AUTH_RESOLVED_OPTIONS],
      useFactory: (resolved: ResolvedAuthOptions) => resolved.eventStore,
    },
    SessionActivityService,
    CookieTransportService,
    JwtStrategy,
    JwtAuthGuard,
    UserRepository,
    SessionRepository,
    RevocationRepository,
    RevocationStateRepository,
    PurgeRepository,
    LoginFailureRepository,
    PasswordCheckRepository,
    RateLimitRepository,
  ],
  // What a host may inject (src/auth/index.ts exports these classes); the rest is internal.
  exports: [
    AuthService,
    AccountService,
    SessionsService,
    LoginThrottleService,
    RegistrationThrottleService,
    SecurityEventsService,
    RevocationService,
    RevocationSyncService,
    PurgeService,
    TokenService,
    JwtAuthGuard,
    SigningKeys,
    KeyRotationService,
    AccountRecoveryService,
    MailOutboxService,
    MfaService,
    RolesService,
    AUTH_CLOCK,
  ],
})
export class AuthModule extends ConfigurableAuthModule {
  static override forRoot(options: typeof AUTH_OPTIONS_TYPE): DynamicModule {
    return withRoutes(super.forRoot(options), options.routePrefix);
  }

  static override forRootAsync(options: typeof AUTH_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withRoutes(super.forRootAsync(options), options.routePrefix);
  }
}

function withRoutes(definition: DynamicModule, routePrefix: string | undefined): DynamicModule {
  const path = (routePrefix ?? DEFAULTS.routePrefix).replace(/^\/+|\/+$/g, '');
  return {
    ...definition,
    imports: [...(definition.imports ?? []), RouterModule.register([{ path, module: AuthModule }]), JwksModule],
    providers: [...(definition.providers ?? []), { provide: AUTH_ROUTE_PREFIX, useValue: path }],
  };
}
