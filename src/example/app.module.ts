import { type DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AccountPagesModule,
  AUTH_ENTITIES,
  AUTH_MIGRATIONS,
  AuthModule,
  FileMailTransport,
  JwtAuthGuard,
  SmtpMailTransport,
} from '../auth/index.js';
import { APP_CONFIG, AppConfigModule } from './config/app-config.module.js';
import type { AppConfig } from './config/app.config.js';
import { HealthController } from './health.controller.js';
import { ProfileController } from './profile.controller.js';

export interface AppModuleOptions {
  config: AppConfig;
  /** The database to use (the embedded one when DATABASE_URL is unset). */
  databaseUrl: string;
  /** Run pending migrations at start (done for the embedded database). */
  runMigrations: boolean;
  /** Schedule the purge job; the one-shot CLI turns it off. Default true. */
  schedulePurge?: boolean;
}

/** The example host app: imports AuthModule exactly as a user's app would. */
@Module({})
export class AppModule {
  static forRoot(options: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(options.config),
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: options.databaseUrl,
          entities: AUTH_ENTITIES,
          migrations: AUTH_MIGRATIONS,
          migrationsRun: options.runMigrations,
          synchronize: false,
          installExtensions: false,
          // A database host that stops answering (no refusal) must become a quick 503, not a hang.
          connectTimeoutMS: 5_000,
          // TypeORM's logger prints statement parameters (password hashes among them): keep it off.
          logging: false,
        }),
        AuthModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => ({
            secret: config.jwtSecret ?? undefined,
            algorithm: config.jwtAlgorithm,
            keyEncryptionSecret: config.keyEncryptionSecret,
            notificationSecret: config.notificationSecret ?? undefined,
            accessTokenTtl: config.accessTokenTtl,
            refreshTokenTtl: config.refreshTokenTtl,
            sessionMaxAge: config.sessionMaxAge,
            refreshReuseGrace: config.refreshReuseGrace,
            purgeCron: options.schedulePurge === false ? false : config.purgeCron,
            loginMaxFailedAttempts: config.loginMaxFailedAttempts,
            loginMaxFailedAttemptsPerIp: config.loginMaxFailedAttemptsPerIp,
            loginMaxFailedAttemptsPerAccount: config.loginMaxFailedAttemptsPerAccount,
            loginLockoutWindow: config.loginLockoutWindow,
            registerMaxPerIp: config.registerMaxPerIp,
            passwordChecksMaxPerIp: config.passwordChecksMaxPerIp,
            passwordChecksWindow: config.passwordChecksWindow,
            passwordChecksMaxPerNetwork: config.passwordChecksMaxPerNetwork,
            maxSessionsPerUser: config.maxSessionsPerUser,
            registerWindow: config.registerWindow,
            trustedOrigins: config.trustedOrigins,
            revocationListenerUrl: config.databaseListenUrl ?? undefined,
            // Password reset and email verification: through SMTP_URL, or as .eml files under .data/mail.
            mail: {
              transport: config.smtpUrl
                ? new SmtpMailTransport(config.smtpUrl, { allowPlaintextTo: config.smtpAllowPlaintextTo })
                : new FileMailTransport(config.mailDir),
              from: config.mailFrom,
              publicUrl: config.publicUrl,
              pagesPath: '/account',
              appName: 'nest-jwt-revocation example',
            },
            passwordResetTtl: config.passwordResetTtl,
            emailVerificationTtl: config.emailVerificationTtl,
            requireVerifiedEmail: config.requireVerifiedEmail,
            recentAuthMaxAge: config.recentAuthMaxAge,
            // The event store: users' activity, the admin API, new-device alerts.
            eventStore: config.eventStore,
            eventRetention: config.eventRetentionDays === undefined ? undefined : config.eventRetentionDays * 86_400,
            newDeviceAlerts: config.newDeviceAlerts,
            // Passkeys are bound to the site the pages are served from (off where browsers allow none).
            webauthn: config.passkeyOrigin
              ? { origins: [config.passkeyOrigin], rpName: 'nest-jwt-revocation example' }
              : undefined,
            // Sign-in with OpenID Connect providers (OIDC_PROVIDERS), back at PUBLIC_URL.
            oidc: config.oidcProviders?.length
              ? { providers: config.oidcProviders, publicUrl: config.publicUrl, pagesPath: '/account' }
              : undefined,
          }),
        }),
        // The browser side: sign-in, sign-up and account pages at /account (cookie transport).
        AccountPagesModule.forRoot({ appName: 'nest-jwt-revocation example' }),
      ],
      controllers: [HealthController, ProfileController],
      // Every route needs a valid access token unless marked @Public().
      providers: [{ provide: APP_GUARD, useClass: JwtAuthGuard }],
    };
  }
}
