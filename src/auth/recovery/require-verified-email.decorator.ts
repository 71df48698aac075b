import { SetMetadata } from '@nestjs/common';
import { REQUIRE_VERIFIED_EMAIL_KEY } from '../auth.constants.js';

/**
 * On a route (or a controller) guarded by JwtAuthGuard: a user whose email address is not
 * verified gets 403 `Email address not verified`. Read from the database on each request, so a
 * verification counts at once.
 */
export const RequireVerifiedEmail = () => SetMetadata(REQUIRE_VERIFIED_EMAIL_KEY, true);
