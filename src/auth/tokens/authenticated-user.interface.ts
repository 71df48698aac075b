/** What `@CurrentUser()` returns on a guarded route. */
export interface AuthenticatedUser {
  userId: string;
  sessionId: string;
  /** Id (`jti`) of the access token that authenticated the request. */
  tokenId: string;
  /** Expiry of that access token. */
  tokenExpiresAt: Date;
  /** When the user last authenticated in this session (sign-in or re-authentication), whole seconds since the epoch (`auth_time`). */
  authTime: number;
  /** How they authenticated (RFC 8176, the token's `amr`): `pwd`, `otp`, `mfa`... */
  amr: readonly string[];
  /** The user's roles when the session's tokens were signed (the token's `roles`); empty for none. */
  roles: readonly string[];
}
