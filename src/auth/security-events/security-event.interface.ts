/** What an event is about (the module's auth events, security-relevant ones among them). Names are stable: log pipelines and alerts may match on them. */
export type SecurityEventType =
  | 'user_registered'
  | 'login_succeeded'
  | 'login_failed'
  | 'login_throttled'
  | 'register_throttled'
  | 'refresh_reuse_detected'
  /**
   * A session ended before its time. `reason`: `logout`, `device_revoked`, `password_change`,
   * `refresh_token_reuse`, `user_banned` or `account_deleted`; without `sessionId` (bans,
   * deletions), every session of the user.
   */
  | 'session_revoked'
  | 'logout_all'
  | 'password_changed'
  | 'account_deleted'
  | 'user_banned'
  /** A reset link was mailed (only for an existing account: the answer to the client is the same either way). */
  | 'password_reset_requested'
  /** The password was reset by mail; every session of the user ended. */
  | 'password_reset'
  /** A verification link was mailed. */
  | 'email_verification_requested'
  | 'email_verified'
  /** Too many reset or verification mails asked for, by one client or for one email. */
  | 'mail_throttled'
  /** An authenticator app was turned on (with new recovery codes). */
  | 'mfa_enabled'
  /** The second factor was removed: by the user, or by an operator (`reason: 'operator_reset'`). */
  | 'mfa_disabled'
  /**
   * A wrong code: at the second step of a sign-in (`reason: 'wrong_code'`, or `'challenge_exhausted'`
   * on the mfaToken's last), or at a re-authentication (`'reauthentication'`).
   */
  | 'mfa_challenge_failed'
  /** A recovery code was spent to sign in. */
  | 'recovery_code_used'
  | 'recovery_codes_regenerated'
  | 'passkey_added'
  | 'passkey_removed'
  /** A sign-in (or a second step, or a re-authentication) with a passkey. */
  | 'passkey_login'
  /**
   * A passkey answered with a signature counter that did not increase (a cloned authenticator,
   * or one that misbehaves): refused.
   */
  | 'passkey_counter_regressed'
  /** A sign-in through an OpenID Connect provider (once its second step, if any, is done). */
  | 'oidc_login'
  /** A sign-in through a provider that did not happen; `reason` says why (`invalid_state`, `account_exists`…). */
  | 'oidc_login_failed'
  | 'identity_linked'
  | 'identity_unlinked'
  /** A ban lifted before its end (by an admin). */
  | 'user_unbanned'
  /** Roles granted or revoked (`details.added`, `details.removed`); every session of the user ended. */
  | 'roles_changed'
  /** A sign-in from a device and network not seen for the user: an alert was mailed. */
  | 'new_device_alert'
  /** "This wasn't me": every session ended and a password reset mailed, from an alert's link. */
  | 'account_secured';

/**
 * Who caused an event: the user themself (or a client acting for them), an admin (`id`: the
 * admin's user id), or the module itself (the purge, the session cap, the operator CLI).
 */
export interface EventActor {
  kind: 'user' | 'admin' | 'system';
  id?: string | null;
}

/**
 * One security event. Deliberately narrow: ids, the client address and a reason, never a token,
 * a hash, a password or an email address.
 */
export interface SecurityEvent {
  type: SecurityEventType;
  /** When it happened (the module's clock). */
  at: Date;
  /** The user concerned, when known (null for a failed login of an unknown email). */
  userId: string | null;
  sessionId?: string;
  /** Client address as the module counts it (IPv6 by /64 for throttling). */
  ip?: string | null;
  /** Why: e.g. `bad_credentials`, `suspended`, `per_account`. */
  reason?: string;
  /** Ban end, for `user_banned`. */
  until?: Date;
  /** Who acted. Absent: the user concerned when there is one, else the system. */
  actor?: EventActor;
  /** The device's name, for sign-ins (as its session shows it). */
  deviceName?: string | null;
  /** A little more, never a secret: a role, the methods of a sign-in (`amr`). */
  details?: Record<string, string | number | boolean | null | readonly string[]>;
}

/** Receives the module's security events. Errors it throws are logged and otherwise ignored. */
export interface SecurityEventHandler {
  handle(event: SecurityEvent): void | Promise<void>;
}
