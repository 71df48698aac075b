export { AuthModule } from './auth.module.js';
export { AuthVerifierModule } from './verifier/auth-verifier.module.js';
export { AUTH_VERIFIER_OPTIONS } from './verifier/auth-verifier.module-definition.js';
export type { AuthVerifierOptions } from './verifier/auth-verifier-options.interface.js';
export { AccountPagesModule } from './account-pages/account-pages.module.js';
export type { AccountPagesOptions } from './account-pages/account-pages.options.js';
export type { AuthModuleExtras } from './auth.module-definition.js';
export { AUTH_MODULE_OPTIONS } from './auth.module-definition.js';
export { AuthService } from './login/auth.service.js';
export { AccountService, type AccountView, type PublicUser } from './accounts/account.service.js';
export { canonicalEmail } from './accounts/email-address.js';
export { SessionsService, type DeviceSession } from './sessions/sessions.service.js';
export type { ClientInfo } from './common/client-info.js';
export { RevocationService, REVOCATION_REASONS, type RevokeAllOptions } from './revocation/revocation.service.js';
export { RevocationSyncService, type RevocationSyncState } from './revocation/revocation-sync.service.js';
export { LoginThrottleService, LoginThrottledException } from './throttling/login-throttle.service.js';
export { RegistrationThrottleService } from './throttling/registration-throttle.service.js';
export { RetryLaterException, TooManyRequestsException, AuthUnavailableException } from './common/exceptions.js';
export { AuthExceptionsFilter } from './common/auth-exceptions.filter.js';
export {
  SecurityEventsService,
  SECURITY_EVENT_HANDLER,
  LogSecurityEventHandler,
  formatSecurityEvent,
} from './security-events/security-events.service.js';
export { clientAddress, throttleKey } from './common/client-address.js';
export { ACCESS_TOKEN_COOKIE, REFRESH_TOKEN_COOKIE, AUTH_TRANSPORT_HEADER } from './cookies/cookies.js';
export type { CookieSession } from './cookies/cookie-transport.service.js';
export { RevocationListenerMismatchError } from './notifications/notification-listener.service.js';
export { deviceNameFromUserAgent } from './sessions/device-name.js';
export { PurgeService, type PurgeResult } from './purge/purge.service.js';
export { TokenService } from './tokens/token.service.js';
export { JwtAuthGuard } from './tokens/jwt-auth.guard.js';
export { JwtStrategy } from './tokens/jwt.strategy.js';
export { Public } from './tokens/public.decorator.js';
export { CurrentUser } from './tokens/current-user.decorator.js';
export { StrictRevocationCheck } from './revocation/strict-revocation.decorator.js';
export { RequireVerifiedEmail } from './recovery/require-verified-email.decorator.js';
export { RequireRecentAuth, RequireSecondFactor } from './step-up/step-up.decorators.js';
export { Roles } from './roles/roles.decorator.js';
export { RolesService, type RoleChange } from './roles/roles.service.js';
export { ADMIN_ROLE } from './roles/role-names.js';
export {
  MfaService,
  type MfaChallengeAnswer,
  type MfaStatus,
  type SecondFactorMethod,
  type SecondFactorProof,
} from './mfa/mfa.service.js';
export { AMR_VALUES, amrOf, isMultiFactor, type AuthMethod } from './tokens/amr.js';
export { AccountRecoveryService } from './recovery/account-recovery.service.js';
export { MailOutboxService, type DrainResult } from './mail/mail-outbox.service.js';
export { SmtpMailTransport } from './mail/smtp-mail.transport.js';
export { parseSmtpUrl, SmtpUrlError, type SmtpConnection, type SmtpTransportOptions } from './mail/smtp-url.js';
export { FileMailTransport } from './mail/file-mail.transport.js';
export type { MailMessage, MailTransport } from './mail/mail-transport.interface.js';
export {
  AUTH_ENTITIES,
  UserEntity,
  SessionEntity,
  RevokedTokenEntity,
  LoginFailureEntity,
  DeletedUserEntity,
  RateLimitHitEntity,
  SigningKeyEntity,
  AccountTokenEntity,
  MailOutboxEntity,
  MfaTotpEntity,
  MfaRecoveryCodeEntity,
  MfaChallengeEntity,
  AuthEventEntity,
} from './auth.entities.js';
export { SigningKeys, type KeyState, type KeyTimeline } from './keys/signing-keys.service.js';
export {
  KeyRotationService,
  KeyRotationPendingError,
  KeyRevocationError,
  type RevokedKey,
  type RotatedKey,
} from './keys/key-rotation.service.js';
export { SIGNING_ALGORITHMS, isSigningAlgorithm } from './keys/signing-key.js';
export { AUTH_MIGRATIONS } from './auth.migrations.js';
export { AUTH_CLOCK, PASSWORD_HASHER, AuthErrors, TOKEN_TYPE_ACCESS, TOKEN_TYPE_REFRESH } from './auth.constants.js';
export type { TokenType } from './auth.constants.js';
export { MIN_SECRET_BYTES } from './auth-options.js';
export type {
  AuthMailOptions,
  AuthModuleOptions,
  HmacAlgorithm,
  SigningAlgorithm,
} from './auth-module-options.interface.js';
export type { AuthenticatedUser } from './tokens/authenticated-user.interface.js';
export type { AuthTokenClaims } from './tokens/jwt-claims.interface.js';
export type { Clock } from './common/clock.interface.js';
export type {
  EventActor,
  SecurityEvent,
  SecurityEventHandler,
  SecurityEventType,
} from './security-events/security-event.interface.js';
export type { PasswordHasher } from './common/password-hasher.interface.js';
export type { TokenPair } from './login/token-pair.interface.js';
