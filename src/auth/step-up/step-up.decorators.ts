import { SetMetadata } from '@nestjs/common';
import { REQUIRE_RECENT_AUTH_KEY, REQUIRE_SECOND_FACTOR_KEY } from '../auth.constants.js';

/** What the OpenAPI document says of a @RequireRecentAuth() route's 403. */
export const RECENT_AUTH_REFUSAL =
  'Recent authentication required (sign in or POST /auth/reauthenticate within `recentAuthMaxAge`)';

/**
 * On a route (or a controller) guarded by JwtAuthGuard: the token's `auth_time` (the sign-in or
 * the last `POST /auth/reauthenticate`) must be at most `maxAgeSeconds` old (default: the module's
 * `recentAuthMaxAge`), else 403 `Recent authentication required`. Read from the token alone: it
 * works in AuthVerifierModule too, and costs no database read.
 */
export const RequireRecentAuth = (maxAgeSeconds?: number) => {
  if (maxAgeSeconds !== undefined && (!Number.isInteger(maxAgeSeconds) || maxAgeSeconds < 1)) {
    throw new Error('RequireRecentAuth: maxAgeSeconds must be a whole number of seconds, 1 or more');
  }
  return SetMetadata(REQUIRE_RECENT_AUTH_KEY, maxAgeSeconds ?? null);
};

/**
 * On a route (or a controller) guarded by JwtAuthGuard: the session must have shown two factors
 * (the token's `amr` has `mfa`: a password and a code at sign-in, or a re-authentication with
 * the other one), else 403 `Second factor required`. Read from the token alone, like
 * RequireRecentAuth.
 */
export const RequireSecondFactor = () => SetMetadata(REQUIRE_SECOND_FACTOR_KEY, true);
