import type { TokenType } from '../auth.constants.js';

/** Claims of every token this module issues, after validation. */
export interface AuthTokenClaims {
  /** User id. */
  sub: string;
  /** Session id. */
  sid: string;
  /** Token id. */
  jti: string;
  /** Token type marker: `access` or `refresh`. */
  typ: TokenType;
  /** Issued at, whole seconds (RFC 7519). */
  iat: number;
  /** Issued at in milliseconds: `iat` has whole seconds, too coarse to compare with `tokens_valid_after`. */
  iat_ms: number;
  /** Expiry, whole seconds. */
  exp: number;
  /**
   * Sign-in time of the session, in milliseconds on the database's clock: the same in every token
   * of the session, however often it is refreshed. A user's cut-off (logout-all, ban, deletion)
   * is compared with this, never with `iat`, so that a refresh racing a logout-all cannot mint a
   * token that outlives it. Required in access tokens.
   */
  auth_time_ms: number;
  /**
   * Refresh tokens only: the session's absolute end (sessions.expires_at), in milliseconds. With
   * `auth_time_ms` it lets a refresh sign the next tokens before it touches the database, and
   * rotate in one conditional UPDATE that also checks both against the row. Absent from refresh
   * tokens issued before it existed (their refresh reads the session first).
   */
  session_exp_ms?: number;
  /**
   * When the user last authenticated in this session (sign-in, or a later re-authentication), in
   * whole seconds (OpenID Connect's `auth_time`): what @RequireRecentAuth() compares with. Absent
   * from tokens of sessions opened before it existed (then the sign-in time counts).
   */
  auth_time?: number;
  /** How (RFC 8176: `pwd`, `otp`, `mfa`...): what @RequireSecondFactor() reads. Absent before it existed: `pwd`. */
  amr?: string[];
  /** The user's roles (sorted, distinct), what @Roles() reads. Absent: none. */
  roles?: string[];
}
