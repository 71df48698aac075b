export { UserEntity } from './user.entity.js';
export { SessionEntity } from './session.entity.js';
export { RevokedTokenEntity } from './revoked-token.entity.js';
export { LoginFailureEntity } from './login-failure.entity.js';

import { LoginFailureEntity } from './login-failure.entity.js';
import { RevokedTokenEntity } from './revoked-token.entity.js';
import { SessionEntity } from './session.entity.js';
import { UserEntity } from './user.entity.js';

/** Every entity of the module, for a host's TypeORM `entities` list. */
export const AUTH_ENTITIES = [UserEntity, SessionEntity, RevokedTokenEntity, LoginFailureEntity];
