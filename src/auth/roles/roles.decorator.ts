import { SetMetadata } from '@nestjs/common';
import { ROLES_KEY } from '../auth.constants.js';
import { isRoleName } from './role-names.js';

/**
 * On a route (or a controller) guarded by JwtAuthGuard: the access token's `roles` claim must
 * hold at least one of `roles`, else 403 `Insufficient role`. Read from the token alone (a role
 * change ends every session of the user, so no token keeps a removed role): it works in
 * AuthVerifierModule too, and costs no database read.
 */
export const Roles = (...roles: string[]) => {
  if (roles.length === 0 || !roles.every(isRoleName)) {
    throw new Error('Roles: give one or more role names (lower-case letters, digits, _ and -, starting with a letter)');
  }
  return SetMetadata(ROLES_KEY, [...roles]);
};
