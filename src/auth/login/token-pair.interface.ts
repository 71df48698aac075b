/** Body of a successful login or refresh. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  sessionId: string;
  /** In a login's answer: whether the account's email address is verified. */
  emailVerified?: boolean;
}
