/** What `@CurrentUser()` returns on a guarded route. */
export interface AuthenticatedUser {
  userId: string;
  sessionId: string;
  /** Id (`jti`) of the access token that authenticated the request. */
  tokenId: string;
  /** Expiry of that access token. */
  tokenExpiresAt: Date;
}
