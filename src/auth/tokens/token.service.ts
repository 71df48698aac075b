import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { AUTH_CLOCK, AuthErrors, TOKEN_TYPE_ACCESS, TOKEN_TYPE_REFRESH, type TokenType } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { readCompactJws } from '../keys/jws.js';
import { AuthUnavailableException } from '../common/exceptions.js';
import { isDatabaseUnavailable } from '../common/database-errors.js';
import type { SigningKey } from '../keys/signing-key.js';
import { KeyUnusableError, SigningKeys } from '../keys/signing-keys.service.js';
import { NotificationListener } from '../notifications/notification-listener.service.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';
import type { AuthTokenClaims } from './jwt-claims.interface.js';
import { isAmrClaim } from './amr.js';
import { isRolesClaim } from '../roles/role-names.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VERIFIED_CACHE_SIZE = 10_000;
/**
 * Characters of a token's end that key the verified-token cache: 22 base64url characters (132
 * bits) of its signature. Two tokens that share them (by chance, or forged) share a slot, never an
 * entry: a hit needs the whole token to be identical.
 */
const VERIFIED_KEY_CHARS = 22;

interface VerifiedToken {
  token: string;
  payload: unknown;
  /** The key that verified it: the entry is worth nothing once that key is revoked or gone. */
  kid: string;
}
const CLAIM_NAMES = new Set([
  'sub',
  'sid',
  'jti',
  'typ',
  'iat',
  'iat_ms',
  'exp',
  'auth_time_ms',
  'session_exp_ms',
  'auth_time',
  'amr',
  'roles',
  'iss',
  'aud',
]);

export interface IssuedToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface TokenSubject {
  userId: string;
  sessionId: string;
  /** The session's sign-in time (sessions.created_at, database clock). */
  authenticatedAt: Date;
  /** When the user last authenticated (sign-in or re-authentication, the module's clock): `auth_time`. */
  authTime: Date;
  /** How (RFC 8176): `amr`. */
  amr: readonly string[];
  /** The user's roles (sorted, distinct): `roles`, left out when there are none. */
  roles?: readonly string[];
}

/** A signature check's answer when the token names a key this instance does not have. */
const UNKNOWN_KEY = Symbol('unknown key');

/**
 * Signs and verifies the module's tokens. Every verification (guard, refresh, logout) goes through
 * here: the token's `kid` chooses the key (SigningKeys), the key pins the algorithm, then the
 * claims are checked strictly against the injected clock.
 */
@Injectable()
export class TokenService {
  constructor(
    private readonly keys: SigningKeys,
    private readonly listener: NotificationListener,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  lifetimeOf(type: TokenType): number {
    return type === TOKEN_TYPE_ACCESS ? this.options.accessTokenTtl : this.options.refreshTokenTtl;
  }

  /**
   * Signs a token of the given type; it never outlives `notAfter` (the session's absolute end).
   * `issuedAt` (default now) lets a caller stamp the token with the very instant it records in the
   * database, so that token and row agree to the millisecond.
   */
  issue(type: TokenType, subject: TokenSubject, notAfter: Date, issuedAt: Date = this.clock.now()): IssuedToken {
    const issuedAtMs = issuedAt.getTime();
    const iat = Math.floor(issuedAtMs / 1000);
    const exp = Math.min(iat + this.lifetimeOf(type), Math.floor(notAfter.getTime() / 1000));
    const jti = randomUUID();
    const payload: Record<string, unknown> = {
      sub: subject.userId,
      sid: subject.sessionId,
      jti,
      typ: type,
      iat,
      iat_ms: issuedAtMs,
      exp,
      auth_time_ms: subject.authenticatedAt.getTime(),
      auth_time: Math.floor(subject.authTime.getTime() / 1000),
      amr: subject.amr,
    };
    if (subject.roles && subject.roles.length > 0) payload.roles = subject.roles;
    // A refresh token names its session's end: the next refresh can sign before it reads anything.
    if (type === TOKEN_TYPE_REFRESH) payload.session_exp_ms = notAfter.getTime();
    if (this.options.issuer) payload.iss = this.options.issuer;
    if (this.options.audience) payload.aud = this.options.audience;
    const token = this.signingKey().sign(payload);
    return { token, jti, issuedAt: new Date(issuedAtMs), expiresAt: new Date(exp * 1000) };
  }

  /** The key that signs now; 503 when it cannot be used here (why was logged when it was read). */
  private signingKey(): SigningKey {
    try {
      return this.keys.signingKey();
    } catch (error) {
      if (error instanceof KeyUnusableError) throw new AuthUnavailableException();
      throw error;
    }
  }

  /** Verifies signature and claims of a raw token; throws 401 with the reason otherwise. */
  verify(token: string, expectedType: TokenType): AuthTokenClaims {
    const payload = this.signedPayload(token);
    if (payload === UNKNOWN_KEY || payload === undefined) throw new UnauthorizedException(AuthErrors.invalid);
    return this.assertClaims(payload, expectedType);
  }

  /** verify(), reading the keys again first when the token names a key that may be missing here (see verifiedPayload). */
  async verifyFresh(token: string, expectedType: TokenType): Promise<AuthTokenClaims> {
    const payload = await this.verifiedPayload(token);
    if (payload === undefined) throw new UnauthorizedException(AuthErrors.invalid);
    return this.assertClaims(payload, expectedType);
  }

  /**
   * The payload of a token whose signature is good, or undefined. A key id this instance does not
   * know is final while its view of the keys is live (a new key is known everywhere before it
   * signs; one made current by a revocation is known once the read of the keys under way ends);
   * otherwise the keys are read again first, as revocation falls back to the database. While not
   * live, a revocation of the key may have been missed: the revoked keys are read again first
   * when the last read is more than a second old.
   */
  async verifiedPayload(token: string): Promise<unknown> {
    if (!this.listener.isLive) await this.revokedKeysCurrent();
    const payload = this.signedPayload(token);
    if (payload !== UNKNOWN_KEY) return payload;
    if (this.listener.isLive && this.keys.authoritative) {
      const reading = this.keys.pendingReload();
      if (!reading) return undefined;
      await reading.catch(() => undefined);
    } else if (!(await this.keys.reloadForUnknownKid())) return undefined;
    const again = this.signedPayload(token);
    return again === UNKNOWN_KEY ? undefined : again;
  }

  /** SigningKeys.assertRevocationsCurrent; 503 when the keys cannot be read (fail closed). */
  private async revokedKeysCurrent(): Promise<void> {
    try {
      await this.keys.assertRevocationsCurrent();
    } catch (error) {
      if (isDatabaseUnavailable(error)) throw error;
      throw new AuthUnavailableException();
    }
  }

  /** Signature check with the key the token names; UNKNOWN_KEY when its kid is not loaded here. */
  private signedPayload(token: string): unknown {
    const jws = readCompactJws(token);
    if (!jws) return undefined;
    const key = this.keys.keyFor(jws);
    if (!key) return jws.kid !== undefined && !this.keys.knows(jws.kid) ? UNKNOWN_KEY : undefined;
    const payload = key.verifiedPayload(token, jws.input, jws.signature, jws.payloadPart);
    if (typeof payload === 'object' && payload !== null) this.verifiedBy.set(payload, key.kid);
    return payload;
  }

  /** Payloads whose signature was just verified here → the kid of the key that verified them. */
  private readonly verifiedBy = new WeakMap<object, string>();

  /**
   * Strict claim checks on a payload whose signature is already verified: every claim present and
   * well-formed, the expected type, a lifetime no longer than configured, `iat` not in the future,
   * `exp` not passed.
   */
  assertClaims(payload: unknown, expectedType: TokenType): AuthTokenClaims {
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new UnauthorizedException(AuthErrors.invalid);
    }
    // A remembered payload (frozen) that passed the checks below for this type before: only the
    // clock can change the answer.
    if (this.wellFormed.get(payload) === expectedType) return this.assertCurrent(payload as AuthTokenClaims);
    const claims = payload as Record<string, unknown>;
    const {
      sub,
      sid,
      jti,
      typ,
      iat,
      iat_ms: iatMs,
      exp,
      auth_time_ms: authTimeMs,
      session_exp_ms: sessionExpMs,
      auth_time: authTime,
      amr,
      roles,
    } = claims;
    const wellFormed =
      Object.keys(claims).every((name) => CLAIM_NAMES.has(name)) &&
      typeof sub === 'string' &&
      UUID.test(sub) &&
      typeof sid === 'string' &&
      UUID.test(sid) &&
      typeof jti === 'string' &&
      UUID.test(jti) &&
      (typ === TOKEN_TYPE_ACCESS || typ === TOKEN_TYPE_REFRESH) &&
      Number.isSafeInteger(iat) &&
      Number.isSafeInteger(iatMs) &&
      Number.isSafeInteger(exp) &&
      Math.floor((iatMs as number) / 1000) === iat &&
      (exp as number) > (iat as number) &&
      // Refresh tokens issued before this claim existed are still honoured (the session row holds
      // the sign-in time); access tokens live minutes and must carry it.
      (authTimeMs === undefined
        ? typ === TOKEN_TYPE_REFRESH
        : Number.isSafeInteger(authTimeMs) && (authTimeMs as number) >= 0) &&
      // Only refresh tokens name the session's end, and then it is a time the token does not outlive.
      (sessionExpMs === undefined ||
        (typ === TOKEN_TYPE_REFRESH &&
          Number.isSafeInteger(sessionExpMs) &&
          (sessionExpMs as number) >= (exp as number) * 1000)) &&
      // The last authentication came before the token (both absent from tokens older than them).
      (authTime === undefined ||
        (Number.isSafeInteger(authTime) && (authTime as number) >= 0 && (authTime as number) <= (iat as number))) &&
      (amr === undefined || isAmrClaim(amr)) &&
      (roles === undefined || isRolesClaim(roles));
    if (!wellFormed || typ !== expectedType) throw new UnauthorizedException(AuthErrors.invalid);
    // Written into every token when configured, and then required; never compared when not.
    if (this.options.issuer !== undefined && claims.iss !== this.options.issuer) {
      throw new UnauthorizedException(AuthErrors.invalid);
    }
    if (this.options.audience !== undefined && claims.aud !== this.options.audience) {
      throw new UnauthorizedException(AuthErrors.invalid);
    }
    if ((exp as number) - (iat as number) > this.lifetimeOf(expectedType)) {
      throw new UnauthorizedException(AuthErrors.invalid);
    }
    if (Object.isFrozen(payload)) this.wellFormed.set(payload, expectedType);
    return this.assertCurrent(claims as unknown as AuthTokenClaims);
  }

  /** The time checks: `iat` not in the future (beyond the tolerance), `exp` not passed. */
  private assertCurrent(claims: AuthTokenClaims): AuthTokenClaims {
    const nowMs = this.clock.now().getTime();
    if (claims.iat_ms > nowMs + this.options.clockTolerance * 1000) {
      throw new UnauthorizedException(AuthErrors.invalid);
    }
    if (claims.exp * 1000 <= nowMs) throw new UnauthorizedException(AuthErrors.expired);
    return claims;
  }

  /** Frozen payloads that passed the structural checks, with the token type they passed for. */
  private readonly wellFormed = new WeakMap<object, TokenType>();

  /**
   * Payloads of access tokens whose signature this instance has verified, found by the exact token
   * string: a client sends the same token for many requests, and the HMAC and JSON work need not
   * be redone. The map's key is the token's last characters (its signature), which V8 hashes far
   * faster than the whole token on every request; the entry keeps the whole token, and only an
   * identical string is a hit, so nothing unverified is ever found here. The claim and time
   * checks still run on every request, and so does the check of the key: an entry whose key was
   * revoked (or retired) since is dropped, and the token verified again, in vain. While the
   * listener is not live, nothing is recalled: every token goes through verifiedPayload.
   */
  private readonly verified = new Map<string, VerifiedToken>();

  recallVerified(token: string): unknown {
    const slot = token.slice(-VERIFIED_KEY_CHARS);
    const entry = this.verified.get(slot);
    if (entry === undefined || entry.token !== token || !this.listener.isLive) return undefined;
    if (!this.keys.stillVerifies(entry.kid)) {
      this.verified.delete(slot);
      return undefined;
    }
    return entry.payload;
  }

  /** Remembers a payload this service verified (verifiedPayload); anything else is not remembered. */
  rememberVerified(token: string, payload: unknown): void {
    const kid = typeof payload === 'object' && payload !== null ? this.verifiedBy.get(payload) : undefined;
    if (kid === undefined) return;
    const key = token.slice(-VERIFIED_KEY_CHARS);
    if (this.verified.size >= VERIFIED_CACHE_SIZE && !this.verified.has(key)) {
      // Oldest first: Map iterates in insertion order.
      this.verified.delete(this.verified.keys().next().value as string);
    }
    // Frozen: nothing may change a payload whose checks are remembered (see assertClaims).
    const frozen = typeof payload === 'object' && payload !== null ? Object.freeze(payload) : payload;
    this.verified.set(key, { token, payload: frozen, kid });
  }

  /** SHA-256 of a token: what the database keeps instead of the token. */
  static hash(token: string): string {
    return createHash('sha256').update(token, 'utf8').digest('hex');
  }
}
