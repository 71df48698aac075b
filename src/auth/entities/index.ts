export { UserEntity } from './user.entity.js';
export { SessionEntity } from './session.entity.js';
export { RevokedTokenEntity } from './revoked-token.entity.js';
export { LoginFailureEntity } from './login-failure.entity.js';
export { DeletedUserEntity } from './deleted-user.entity.js';
export { RateLimitHitEntity } from './rate-limit-hit.entity.js';
export { SigningKeyEntity } from './signing-key.entity.js';
export { AccountTokenEntity } from './account-token.entity.js';
export { MailOutboxEntity } from './mail-outbox.entity.js';

import { AccountTokenEntity } from './account-token.entity.js';
import { DeletedUserEntity } from './deleted-user.entity.js';
import { MailOutboxEntity } from './mail-outbox.entity.js';

import { LoginFailureEntity } from './login-failure.entity.js';
import { RateLimitHitEntity } from './rate-limit-hit.entity.js';
import { RevokedTokenEntity } from './revoked-token.entity.js';
import { SessionEntity } from './session.entity.js';
import { SigningKeyEntity } from './signing-key.entity.js';
import { UserEntity } from './user.entity.js';

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
];
