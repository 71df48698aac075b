export { UserEntity } from './accounts/user.entity.js';
export { SessionEntity } from './sessions/session.entity.js';
export { RevokedTokenEntity } from './revocation/revoked-token.entity.js';
export { LoginFailureEntity } from './throttling/login-failure.entity.js';
export { DeletedUserEntity } from './accounts/deleted-user.entity.js';
export { RateLimitHitEntity } from './throttling/rate-limit-hit.entity.js';
export { SigningKeyEntity } from './keys/signing-key.entity.js';
export { AccountTokenEntity } from './recovery/account-token.entity.js';
export { MailOutboxEntity } from './mail/mail-outbox.entity.js';
export { MfaTotpEntity } from './mfa/mfa-totp.entity.js';
export { MfaRecoveryCodeEntity } from './mfa/mfa-recovery-code.entity.js';
export { MfaChallengeEntity } from './mfa/mfa-challenge.entity.js';
export { PasskeyEntity } from './passkeys/passkey.entity.js';
export { WebAuthnChallengeEntity } from './passkeys/webauthn-challenge.entity.js';
export { UserIdentityEntity } from './oidc/user-identity.entity.js';
export { OidcTransactionEntity } from './oidc/oidc-transaction.entity.js';
export { OidcLoginCodeEntity } from './oidc/oidc-login-code.entity.js';
export { AuthEventEntity } from './security-events/auth-event.entity.js';

import { AccountTokenEntity } from './recovery/account-token.entity.js';
import { DeletedUserEntity } from './accounts/deleted-user.entity.js';
import { MailOutboxEntity } from './mail/mail-outbox.entity.js';
import { MfaChallengeEntity } from './mfa/mfa-challenge.entity.js';
import { MfaRecoveryCodeEntity } from './mfa/mfa-recovery-code.entity.js';
import { MfaTotpEntity } from './mfa/mfa-totp.entity.js';
import { PasskeyEntity } from './passkeys/passkey.entity.js';
import { WebAuthnChallengeEntity } from './passkeys/webauthn-challenge.entity.js';
import { UserIdentityEntity } from './oidc/user-identity.entity.js';
import { OidcTransactionEntity } from './oidc/oidc-transaction.entity.js';
import { OidcLoginCodeEntity } from './oidc/oidc-login-code.entity.js';
import { AuthEventEntity } from './security-events/auth-event.entity.js';

import { LoginFailureEntity } from './throttling/login-failure.entity.js';
import { RateLimitHitEntity } from './throttling/rate-limit-hit.entity.js';
import { RevokedTokenEntity } from './revocation/revoked-token.entity.js';
import { SessionEntity } from './sessions/session.entity.js';
import { SigningKeyEntity } from './keys/signing-key.entity.js';
import { UserEntity } from './accounts/user.entity.js';

/** Every entity of the module, for a host's TypeORM `entities` list. */
export const AUTH_ENTITIES = [
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
  PasskeyEntity,
  WebAuthnChallengeEntity,
  UserIdentityEntity,
  OidcTransactionEntity,
  OidcLoginCodeEntity,
  AuthEventEntity,
];
