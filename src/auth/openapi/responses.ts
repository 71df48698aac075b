import { ApiField } from './swagger.js';

/**
 * Shapes of the module's answers, for the OpenAPI document only: the routes return plain objects
 * of the same fields (PublicUser, TokenPair, DeviceSession).
 */
export class ErrorResponse {
  @ApiField({ example: 401 })
  statusCode!: number;

  @ApiField({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    example: 'Token has been revoked',
    description: 'What went wrong; a list of messages for a body that fails validation',
  })
  message!: string | string[];

  @ApiField({ example: 'Unauthorized', description: "The status's reason phrase" })
  error!: string;
}

export class PublicUserResponse {
  @ApiField({ format: 'uuid' })
  id!: string;

  @ApiField({ format: 'email', example: 'ada@example.com' })
  email!: string;
}

export class TokenPairResponse {
  @ApiField({ description: 'JWT to send as `Authorization: Bearer …`' })
  accessToken!: string;

  @ApiField({ description: 'JWT for POST /auth/refresh: one use, rotated on each refresh' })
  refreshToken!: string;

  @ApiField({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiField({ description: 'Seconds the access token is valid for', example: 900 })
  expiresIn!: number;

  @ApiField({ format: 'uuid', description: 'The session (device) the tokens belong to' })
  sessionId!: string;

  @ApiField({ required: false, description: 'In a login’s answer: whether the account’s email address is verified' })
  emailVerified?: boolean;
}

export class DeviceSessionResponse {
  @ApiField({ format: 'uuid' })
  id!: string;

  @ApiField({ type: 'string', nullable: true, example: 'Firefox on Linux' })
  deviceName!: string | null;

  @ApiField({ type: 'string', nullable: true })
  userAgent!: string | null;

  @ApiField({ type: 'string', nullable: true, example: '203.0.113.7' })
  ip!: string | null;

  @ApiField({ format: 'date-time', description: 'Sign-in time' })
  createdAt!: string;

  @ApiField({ format: 'date-time', description: 'Last activity (written at most once a minute)' })
  lastUsedAt!: string;

  @ApiField({ description: 'True only for the session of the presenting token' })
  current!: boolean;
}

export class JsonWebKeySetResponse {
  @ApiField({
    type: 'array',
    items: {
      type: 'object',
      required: ['kty', 'kid', 'alg', 'use'],
      properties: {
        kty: { type: 'string', enum: ['OKP', 'EC'] },
        crv: { type: 'string', enum: ['Ed25519', 'P-256'] },
        x: { type: 'string' },
        y: { type: 'string' },
        kid: { type: 'string' },
        alg: { type: 'string', enum: ['EdDSA', 'ES256'] },
        use: { type: 'string', enum: ['sig'] },
      },
    },
    description: 'Public keys (RFC 7517) that may verify a live token; empty when only HMAC keys sign',
  })
  keys!: object[];
}

export class MailRequestedResponse {
  @ApiField({ description: 'The same whether a mail was sent or not' })
  message!: string;
}

export class MeResponse extends PublicUserResponse {
  @ApiField({ description: 'True once the address was confirmed (verification link, or a password reset by mail)' })
  emailVerified!: boolean;
}

export class MfaChallengeResponse {
  @ApiField({ enum: [true] })
  mfaRequired!: true;

  @ApiField({ description: 'For POST /auth/login/mfa: single use, 5 minutes, 5 wrong codes; not an access token' })
  mfaToken!: string;

  @ApiField({ type: 'array', items: { type: 'string', enum: ['totp', 'recovery_code'] } })
  methods!: string[];
}

export class MfaStatusResponse {
  @ApiField({ description: 'An authenticator app is on' })
  totp!: boolean;

  @ApiField({ description: 'Passkeys registered', example: 0 })
  passkeys!: number;

  @ApiField({ description: 'Recovery codes not yet used', example: 10 })
  recoveryCodesLeft!: number;
}

export class TotpSetupResponse {
  @ApiField({ description: 'The shared secret, base32, to type into an app that cannot scan the QR code' })
  secret!: string;

  @ApiField({
    example: 'otpauth://totp/Example:ada%40example.com?issuer=Example&secret=…',
    description: 'What the QR code holds',
  })
  otpauthUrl!: string;
}

export class RecoveryCodesResponse {
  @ApiField({
    type: 'array',
    items: { type: 'string' },
    description: 'Ten single-use codes, shown this once (only their hashes are kept)',
  })
  recoveryCodes!: string[];
}

export class AccessTokenResponse {
  @ApiField({ description: 'A new access token for the same session, with a fresh `auth_time`' })
  accessToken!: string;

  @ApiField({ enum: ['Bearer'] })
  tokenType!: 'Bearer';

  @ApiField({ description: 'Seconds the access token is valid for', example: 900 })
  expiresIn!: number;

  @ApiField({ format: 'uuid' })
  sessionId!: string;
}

export class PasskeyResponse {
  @ApiField({ format: 'uuid' })
  id!: string;

  @ApiField({ example: 'Ada’s phone' })
  name!: string;

  @ApiField({ format: 'date-time' })
  createdAt!: string;

  @ApiField({ type: 'string', format: 'date-time', nullable: true, required: false })
  lastUsedAt?: string | null;
}

export class ActivityEventResponse {
  @ApiField({
    example: 'login_succeeded',
    description:
      'user_registered, login_succeeded, login_failed, mfa_challenge_failed, refresh_reuse_detected, password_changed, password_reset, email_verified, mfa_enabled, mfa_disabled, recovery_codes_regenerated, recovery_code_used, passkey_added, passkey_removed, identity_linked, identity_unlinked, session_revoked, logout_all, user_banned, user_unbanned, roles_changed, new_device_alert, account_secured',
  })
  type!: string;

  @ApiField({ format: 'date-time' })
  at!: string;

  @ApiField({ type: 'string', nullable: true, example: '203.0.113.7' })
  ip!: string | null;

  @ApiField({ type: 'string', nullable: true, example: 'Firefox on Linux' })
  deviceName!: string | null;

  @ApiField({ description: 'True for an event of the session asking' })
  current!: boolean;

  @ApiField({ type: 'string', nullable: true, example: 'logout', description: 'Why, when the event says' })
  reason!: string | null;
}

export class ActivityPageResponse {
  @ApiField({ type: ActivityEventResponse, isArray: true })
  events!: ActivityEventResponse[];

  @ApiField({ type: 'string', nullable: true, description: 'The `cursor` of the next (older) page; null on the last' })
  nextCursor!: string | null;
}

export class AdminUserResponse {
  @ApiField({ format: 'uuid' })
  id!: string;

  @ApiField({ format: 'email' })
  email!: string;

  @ApiField({ description: 'The address was confirmed' })
  emailVerified!: boolean;

  @ApiField({ type: [String], example: ['admin'] })
  roles!: string[];

  @ApiField({ type: 'string', format: 'date-time', nullable: true, description: 'Set while the account is suspended' })
  suspendedUntil!: string | null;

  @ApiField({ format: 'date-time' })
  createdAt!: string;
}

export class AdminUsersPageResponse {
  @ApiField({ type: AdminUserResponse, isArray: true })
  users!: AdminUserResponse[];

  @ApiField({ type: 'string', nullable: true, description: 'The `cursor` of the next page; null on the last' })
  nextCursor!: string | null;
}

export class AdminEventActorResponse {
  @ApiField({ enum: ['user', 'admin', 'system'] })
  kind!: string;

  @ApiField({ type: 'string', format: 'uuid', nullable: true, description: 'The user or admin; null for the system' })
  id!: string | null;
}

export class AdminEventResponse {
  @ApiField({ example: '1042' })
  id!: string;

  @ApiField({ example: 'user_banned' })
  type!: string;

  @ApiField({ format: 'date-time' })
  at!: string;

  @ApiField({ type: 'string', format: 'uuid', nullable: true })
  userId!: string | null;

  @ApiField({ type: AdminEventActorResponse })
  actor!: AdminEventActorResponse;

  @ApiField({ type: 'string', format: 'uuid', nullable: true })
  sessionId!: string | null;

  @ApiField({ type: 'string', nullable: true })
  ip!: string | null;

  @ApiField({ type: 'string', nullable: true, example: '203.0.113.0/24', description: 'IPv4 /24 or IPv6 /48' })
  network!: string | null;

  @ApiField({ type: 'string', nullable: true })
  deviceName!: string | null;

  @ApiField({ type: 'object', additionalProperties: true, description: 'Reason, ban end, roles added and removed…' })
  details!: Record<string, unknown>;
}

export class AdminEventsPageResponse {
  @ApiField({ type: AdminEventResponse, isArray: true })
  events!: AdminEventResponse[];

  @ApiField({ type: 'string', nullable: true, description: 'The `cursor` of the next (older) page; null on the last' })
  nextCursor!: string | null;
}

export class UserFactorsResponse {
  @ApiField({ description: 'The account has a password' })
  password!: boolean;

  @ApiField({ description: 'An authenticator app is on' })
  totp!: boolean;

  @ApiField({ description: 'Passkeys registered' })
  passkeys!: number;

  @ApiField({ description: 'Connected provider accounts' })
  identities!: number;
}

export class AdminSessionResponse {
  @ApiField({ format: 'uuid' })
  id!: string;

  @ApiField({ type: 'string', nullable: true })
  deviceName!: string | null;

  @ApiField({ type: 'string', nullable: true })
  userAgent!: string | null;

  @ApiField({ type: 'string', nullable: true })
  ip!: string | null;

  @ApiField({ format: 'date-time' })
  createdAt!: string;

  @ApiField({ format: 'date-time' })
  lastUsedAt!: string;
}

export class AdminUserDetailResponse extends AdminUserResponse {
  @ApiField({ type: UserFactorsResponse })
  factors!: UserFactorsResponse;

  @ApiField({ type: AdminSessionResponse, isArray: true })
  sessions!: AdminSessionResponse[];

  @ApiField({ type: AdminEventResponse, isArray: true, description: 'The last 20, newest first' })
  events!: AdminEventResponse[];
}

export class AdminRolesResponse {
  @ApiField({ type: [String], example: ['admin'] })
  roles!: string[];
}
