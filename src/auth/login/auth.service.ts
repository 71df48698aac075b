import { randomUUID } from 'node:crypto';
import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { PasswordCheckService } from '../accounts/password-check.service.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { AUTH_CLOCK, AuthErrors, TOKEN_TYPE_ACCESS, TOKEN_TYPE_REFRESH } from '../auth.constants.js';
import { MAX_DEVICE_NAME_CHARS, truncateCodePoints } from '../common/client-address.js';
import type { ClientInfo } from '../common/client-info.js';
import type { Clock } from '../common/clock.interface.js';
import type { RevocationEvent } from '../revocation/revocation-events.js';
import { isSignedInBefore, REVOCATION_REASONS, RevocationService } from '../revocation/revocation.service.js';
import type { SecurityEvent, SecurityEventType } from '../security-events/security-event.interface.js';
import { NewDeviceAlertsService } from '../new-device-alerts/new-device-alerts.service.js';
import { eventRows } from '../security-events/auth-event.repository.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { deviceNameFromUserAgent } from '../sessions/device-name.js';
import { SessionActivityService } from '../sessions/session-activity.service.js';
import { SessionRepository } from '../sessions/session.repository.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import type { AuthTokenClaims } from '../tokens/jwt-claims.interface.js';
import { TokenService } from '../tokens/token.service.js';
import type { TokenPair } from './token-pair.interface.js';
import { type LoginAttempt, LoginThrottleService } from '../throttling/login-throttle.service.js';
import { UserRepository } from '../accounts/user.repository.js';
import { INVALID_PASSKEY, passkeyMethods, PasskeysService } from '../passkeys/passkeys.service.js';
import { amrOf, isMultiFactor, PASSWORD_ONLY } from '../tokens/amr.js';
import { type MfaChallengeAnswer, MfaService, type SecondFactorProof } from '../mfa/mfa.service.js';
import type { SessionEntity } from '../sessions/session.entity.js';

/** A challenge handed to nobody yet (a passwordless sign-in). */
const NOBODY_YET = { userId: null, sessionId: null };

/** A sign-in without a password: no failed-login record to clear or withdraw. */
const NO_PASSWORD_ATTEMPT: LoginAttempt = {
  failures: { accountKey: '', ip: '' },
  succeeded: async () => undefined,
  withdrawn: async () => undefined,
};

/** Thrown inside the session's transaction: the user has a second factor the sign-in has not shown. */
class SecondFactorRequired extends Error {}

/** When the session's user last authenticated (rows from before 0.4: the sign-in). */
function authTimeOf(session: SessionEntity): Date {
  return session.authenticatedAt ?? session.createdAt;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((method, i) => method === b[i]);
}

/**
 * A session's tokens, from sign-in to sign-out: login (after the password check), refresh
 * rotation with theft detection, logout of this session or of every session of the user.
 */
@Injectable()
export class AuthService {
  constructor(
    private readonly passwords: PasswordCheckService,
    private readonly sessions: SessionRepository,
    private readonly tokens: TokenService,
    private readonly revocation: RevocationService,
    private readonly activity: SessionActivityService,
    private readonly events: SecurityEventsService,
    private readonly mfa: MfaService,
    private readonly passkeys: PasskeysService,
    private readonly users: UserRepository,
    private readonly alerts: NewDeviceAlertsService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /**
   * Throttled (429 before any hashing), then the password is verified; an unknown email is
   * verified against a dummy hash so that both failures cost the same. A suspended account gets
   * 403, and only once the password was right, so that a suspension reveals nothing to others.
   * The session is written only if the password it was verified against is still the user's
   * (see SessionRepository.openWithVerifiedPassword): a password change or a deletion that
   * commits meanwhile leaves no session behind.
   */
  async login(
    email: string,
    password: string,
    deviceName: string | null,
    client: ClientInfo,
  ): Promise<TokenPair | MfaChallengeAnswer> {
    const { user, attempt } = await this.passwords.login(email, password, client);
    // Said only once the password was right, as a suspension is; for a user with a second factor,
    // only once both were (the second step says it).
    if (this.unverifiedRefused(user) && !(await this.mfa.status(user.id)).totp) {
      await this.refuseUnverified(user, client, attempt);
    }
    try {
      return await this.openSession(user, deviceName, client, PASSWORD_ONLY, attempt);
    } catch (error) {
      if (!(error instanceof SecondFactorRequired)) throw error;
      // The user has a second factor: no session yet. The right password is no failure, but it
      // clears none either (else whoever knows it would get a fresh allowance of code guesses
      // each time they type it); the second step's wrong codes are failures, its success clears.
      await attempt.withdrawn();
      return this.mfa.challenge(user, attempt.failures.accountKey, deviceName);
    }
  }

  /**
   * The second step of a sign-in (`POST /auth/login/mfa`): the mfaToken and a code from the app or
   * a recovery code (MfaService.completeChallenge), then the session as a login opens it, with
   * `amr` `pwd otp mfa`.
   */
  async completeMfaLogin(mfaToken: string, proof: SecondFactorProof, client: ClientInfo): Promise<TokenPair> {
    const done = await this.mfa.completeChallenge(mfaToken, proof, client);
    if (this.unverifiedRefused(done.account)) await this.refuseUnverified(done.account, client, done.attempt);
    const second = done.method === 'passkey' ? ['hwk', 'user'] : ['otp'];
    // Two steps, two factors, whatever the first was (a password, or a passkey that did not verify
    // the user): amrOf says mfa for both, as for the same methods shown in a session later.
    const amr = amrOf([...done.firstFactor, ...second]);
    const signIn: SecurityEventType[] = done.firstFactor.includes('fed') ? ['oidc_login'] : [];
    return this.openSession(done.account, done.deviceName, client, amr, done.attempt, signIn);
  }

  /**
   * Sign-in with a passkey (`POST /auth/passkeys/login`): the answer to a sign-in challenge,
   * verified (PasskeysService.verifyAssertion), opens a session as a login does, with `amr`
   * `hwk user`, and `mfa` when the authenticator verified the user. A passkey that did not verify
   * the user is one factor: a user with an authenticator app is then asked for its code, as after
   * a password. No password is involved: the session does not depend on it.
   */
  async loginWithPasskey(response: unknown, client: ClientInfo): Promise<TokenPair | MfaChallengeAnswer> {
    const { passkey, userVerified } = await this.passkeys.verifyAssertion(response, 'login', NOBODY_YET, null);
    const account = await this.users.findById(passkey.userId);
    if (!account) throw new UnauthorizedException(INVALID_PASSKEY);
    if (this.unverifiedRefused(account)) await this.refuseUnverified(account, client, NO_PASSWORD_ATTEMPT);
    const amr = passkeyMethods(userVerified);
    try {
      return await this.openSession({ ...account, passwordHash: null }, null, client, amrOf(amr), NO_PASSWORD_ATTEMPT, [
        'passkey_login',
      ]);
    } catch (error) {
      if (!(error instanceof SecondFactorRequired)) throw error;
      const accountKey = LoginThrottleService.accountKey(account.email);
      return this.mfa.challenge(account, accountKey, null, amrOf(amr));
    }
  }

  /**
   * A sign-in at an OpenID Connect provider (OidcService has matched it to this user): a session
   * as a login opens it, `amr` `fed`. Nothing bypasses the second factor: a user with an
   * authenticator app, or with a passkey, is asked for it next, as after a password. 401 when the
   * account is gone; 403 for a suspended one, or an unverified one under requireVerifiedEmail.
   */
  async loginFederated(userId: string, client: ClientInfo): Promise<TokenPair | MfaChallengeAnswer> {
    const account = await this.users.findById(userId);
    if (!account) throw new UnauthorizedException(AuthErrors.revoked);
    const accountKey = LoginThrottleService.accountKey(account.email);
    // A passkey is a second factor the provider's sign-in must be followed by, app or not: the
    // provider's account is not this one, and whoever took it over has no passkey of this user's.
    // (Not while this server has passkeys off: nobody could give one.) The address's state, like a
    // suspension, is told only after it (completeMfaLogin), as after a password.
    const { totp, passkeys } = await this.mfa.status(account.id);
    if (totp || (passkeys > 0 && this.options.webauthn)) {
      return this.mfa.challenge(account, accountKey, null, ['fed'], totp);
    }
    if (this.unverifiedRefused(account)) await this.refuseUnverified(account, client, NO_PASSWORD_ATTEMPT);
    try {
      return await this.openSession(
        { ...account, passwordHash: null },
        null,
        client,
        amrOf(['fed']),
        NO_PASSWORD_ATTEMPT,
        ['oidc_login'],
      );
    } catch (error) {
      // The app turned on meanwhile (the session's transaction read it): its second step.
      if (!(error instanceof SecondFactorRequired)) throw error;
      return this.mfa.challenge(account, accountKey, null, ['fed']);
    }
  }

  /** With requireVerifiedEmail, an account whose address is not verified signs in nowhere. */
  private unverifiedRefused(user: { emailVerifiedAt: Date | null }): boolean {
    return this.options.requireVerifiedEmail && !user.emailVerifiedAt;
  }

  private async refuseUnverified(user: { id: string }, client: ClientInfo, attempt: LoginAttempt): Promise<never> {
    await attempt.succeeded();
    await this.events.emit('login_failed', { userId: user.id, ip: client.ip, reason: 'email_not_verified' });
    throw new ForbiddenException(AuthErrors.emailNotVerified);
  }

  /**
   * Opens a session for a password just verified (and, with `amr` naming two factors, a second
   * factor too): throws SecondFactorRequired, writing nothing, when the user has one and `amr`
   * does not show it; 403 for a suspended account. The attempt's failures are cleared with the
   * session, or when it is not opened for another reason. The session is written with its
   * security events (`login_succeeded`, with the methods, and `signIn`'s, for a passkey or a
   * provider), and those of the sessions the cap ended.
   */
  private async openSession(
    user: { id: string; passwordHash: string | null; emailVerifiedAt: Date | null },
    deviceName: string | null,
    client: ClientInfo,
    amr: readonly string[],
    attempt: LoginAttempt,
    signIn: SecurityEventType[] = [],
  ): Promise<TokenPair> {
    const now = this.clock.now();
    const sessionId = randomUUID();
    const sessionEnd = new Date(now.getTime() + this.options.sessionMaxAge * 1000);
    const device = truncateCodePoints(
      deviceName?.trim() || deviceNameFromUserAgent(client.userAgent),
      MAX_DEVICE_NAME_CHARS,
    );
    const signedIn = (['login_succeeded', ...signIn] as const).map((type) =>
      this.events.event(type, { userId: user.id, sessionId, ip: client.ip, deviceName: device, details: { amr } }),
    );
    const capEvents = this.events.change();
    let endedByCap: RevocationEvent[] = [];
    let suspended = false;
    let alerted: SecurityEvent | null = null;
    const pair = await this.sessions
      .openWithVerifiedPassword(
        {
          id: sessionId,
          userId: user.id,
          verifiedPasswordHash: user.passwordHash,
          deviceName: device,
          userAgent: client.userAgent,
          ip: client.ip,
          now,
          expiresAt: sessionEnd,
          // The right password clears the account's failures from this client, with the session.
          clearFailures: attempt.failures,
          amr,
          events: this.events.storing ? eventRows(signedIn) : '[]',
          newDeviceSince: this.alerts.lookbackFrom(now),
        },
        ({ signedInAt, suspendedUntil, hasSecondFactor, roles }) => {
          // Before the suspension: for a user with a second factor, the password alone tells nothing.
          if (hasSecondFactor && !isMultiFactor(amr)) throw new SecondFactorRequired();
          if (suspendedUntil && suspendedUntil > now) {
            suspended = true;
            throw new ForbiddenException(`Account suspended until ${suspendedUntil.toISOString()}`);
          }
          const subject = { userId: user.id, sessionId, authenticatedAt: signedInAt, authTime: now, amr, roles };
          const refresh = this.tokens.issue(TOKEN_TYPE_REFRESH, subject, sessionEnd, now);
          const access = this.tokens.issue(TOKEN_TYPE_ACCESS, subject, sessionEnd, now);
          return {
            refreshTokenHash: TokenService.hash(refresh.token),
            refreshExpiresAt: refresh.expiresAt,
            value: this.pair(access.token, access.expiresAt, refresh.token, sessionId, now),
          };
        },
        {
          // The least recently used sessions past maxSessionsPerUser end with this login's commit.
          maxLive: this.options.maxSessionsPerUser,
          overCap: async (manager) => {
            endedByCap = await this.revocation.endSessionsOverCapIn(manager, user.id, sessionId, now);
            await this.revocation.recordEndedByCapIn(capEvents, manager, user.id, endedByCap);
          },
        },
        // A device (name and network) not seen for the user: the alert, with the session.
        async (transaction) => {
          alerted = await this.alerts.alertIn(transaction, {
            userId: user.id,
            sessionId,
            deviceName: device,
            ip: client.ip,
            at: now,
          });
        },
      )
      .catch(async (error: unknown) => {
        if (error instanceof SecondFactorRequired) throw error;
        if (suspended) await this.events.emit('login_failed', { userId: user.id, ip: client.ip, reason: 'suspended' });
        // The password was right (a suspension, or no session could be written): its failures are
        // cleared all the same, as they were before the session was attempted.
        await attempt.succeeded().catch(() => undefined);
        throw error;
      });
    if (!pair) {
      // The password changed (or the account went) between the check and the session.
      await attempt.succeeded();
      await this.events.emit('login_failed', { userId: user.id, ip: client.ip, reason: 'password_changed_meanwhile' });
      throw new UnauthorizedException(AuthErrors.badCredentials);
    }
    this.revocation.sessionsEndedByCap(endedByCap);
    this.activity.remember(sessionId, now);
    for (const event of signedIn) this.events.handle(event);
    capEvents.announce();
    if (alerted) this.alerts.sent(alerted);
    return { ...pair, emailVerified: user.emailVerifiedAt !== null };
  }

  /**
   * Rotates a refresh token. The token just rotated out, presented within the reuse grace, gets a
   * plain 401 (a client racing itself); any other rotated-out token is taken as theft and ends the
   * whole session. New tokens carry the session's sign-in time, never a later one.
   *
   * A refresh token names its session's sign-in time and end (auth_time_ms, session_exp_ms): the
   * next tokens are signed from those, and one conditional UPDATE, which checks them against the
   * row too, rotates. Anything else (a token without them, or an UPDATE that changed nothing)
   * reads the session and goes the careful way: rotate from the row, or explain the refusal.
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const claims = await this.tokens.verifyFresh(refreshToken, TOKEN_TYPE_REFRESH);
    const now = this.clock.now();
    const presentedHash = TokenService.hash(refreshToken);
    if (
      claims.auth_time_ms !== undefined &&
      claims.session_exp_ms !== undefined &&
      claims.auth_time !== undefined &&
      claims.amr !== undefined
    ) {
      const signedFor = {
        createdAt: new Date(claims.auth_time_ms),
        expiresAt: new Date(claims.session_exp_ms),
        authTime: new Date(claims.auth_time * 1000),
        amr: claims.amr,
        // The roles the token had, if the user still has exactly those (the UPDATE checks).
        roles: claims.roles ?? [],
      };
      const rotated = await this.rotate(claims, signedFor, presentedHash, now, true);
      if (rotated) return rotated;
    }
    const found = await this.sessions.findWithUserCutoff(claims.sid);
    if (!found || found.session.userId !== claims.sub) throw new UnauthorizedException(AuthErrors.revoked);
    const { session } = found;
    // The fast path above already tried this very rotation, unless the token names another
    // session end or sign-in time than the row, or has none; and a token that is still the
    // current one is rotated from the row whatever it names: a current token is never reuse.
    const triedAlready =
      claims.session_exp_ms !== undefined &&
      claims.auth_time !== undefined &&
      claims.amr !== undefined &&
      Math.floor(authTimeOf(session).getTime() / 1000) === claims.auth_time &&
      sameList(session.amr ?? PASSWORD_ONLY, claims.amr) &&
      session.createdAt.getTime() === claims.auth_time_ms &&
      session.expiresAt.getTime() === claims.session_exp_ms &&
      sameList(found.roles, claims.roles ?? []) &&
      presentedHash !== session.refreshTokenHash;
    const rotated = triedAlready
      ? null
      : await this.rotate(
          claims,
          { ...session, authTime: authTimeOf(session), amr: session.amr ?? PASSWORD_ONLY, roles: found.roles },
          presentedHash,
          now,
          false,
        );
    if (rotated) return rotated;

    // Not rotated: find out why, from the state as it is now (another request may have rotated
    // first). After the fast path, the read above is that state.
    const current = triedAlready ? found : ((await this.sessions.findWithUserCutoff(claims.sid)) ?? found);
    if (current.session.revokedAt || isSignedInBefore(current.session.createdAt.getTime(), current.tokensValidAfter)) {
      throw new UnauthorizedException(AuthErrors.revoked);
    }
    if (current.session.expiresAt <= now || current.session.refreshExpiresAt <= now) {
      throw new UnauthorizedException(AuthErrors.expired);
    }
    const rotatedAt = current.session.refreshRotatedAt?.getTime() ?? 0;
    const withinGrace = now.getTime() - rotatedAt <= this.options.refreshReuseGrace * 1000;
    if (presentedHash === current.session.previousRefreshTokenHash && withinGrace) {
      throw new UnauthorizedException(AuthErrors.revoked);
    }
    // A token we signed for this session that is neither current nor a just-replaced one: reuse.
    await this.revocation.revokeSession(claims.sub, claims.sid, REVOCATION_REASONS.refreshReuse, {}, (events, tx) =>
      events.write(tx, 'refresh_reuse_detected', { userId: claims.sub, sessionId: claims.sid }),
    );
    throw new UnauthorizedException(AuthErrors.revoked);
  }

  /**
   * Signs the next pair for the session (its sign-in time and end as given) and swaps the refresh
   * token in one conditional UPDATE; null when nothing was rotated. `checkSession`: the UPDATE
   * also requires the row's sign-in time and end to be the ones signed for.
   */
  private async rotate(
    claims: AuthTokenClaims,
    session: { createdAt: Date; expiresAt: Date; authTime: Date; amr: readonly string[]; roles: readonly string[] },
    presentedHash: string,
    now: Date,
    checkSession: boolean,
  ): Promise<TokenPair | null> {
    const subject = {
      userId: claims.sub,
      sessionId: claims.sid,
      authenticatedAt: session.createdAt,
      authTime: session.authTime,
      amr: session.amr,
      roles: session.roles,
    };
    const refresh = this.tokens.issue(TOKEN_TYPE_REFRESH, subject, session.expiresAt, now);
    const access = this.tokens.issue(TOKEN_TYPE_ACCESS, subject, session.expiresAt, now);
    const rotated = await this.sessions.rotateRefreshToken({
      sessionId: claims.sid,
      userId: claims.sub,
      presentedHash,
      newHash: TokenService.hash(refresh.token),
      newRefreshExpiresAt: refresh.expiresAt,
      now,
      signedFor: checkSession
        ? {
            createdAt: session.createdAt,
            expiresAt: session.expiresAt,
            authTime: Math.floor(session.authTime.getTime() / 1000),
            amr: session.amr,
            roles: session.roles,
          }
        : undefined,
    });
    if (!rotated) return null;
    this.activity.remember(claims.sid, now);
    return this.pair(access.token, access.expiresAt, refresh.token, claims.sid, now);
  }

  async logout(user: AuthenticatedUser, client: Partial<ClientInfo> = {}): Promise<void> {
    const revoked = await this.revocation.revokeSessionAndToken(
      user.userId,
      user.sessionId,
      { jti: user.tokenId, expiresAt: user.tokenExpiresAt },
      REVOCATION_REASONS.logout,
      { ip: client.ip ?? null },
    );
    // The guard has just checked the session; losing a race with another revocation is still a revoked token.
    if (!revoked) throw new UnauthorizedException(AuthErrors.revoked);
  }

  async logoutAll(user: AuthenticatedUser, client: Partial<ClientInfo> = {}): Promise<void> {
    const revoked = await this.revocation.revokeAllForUser(user.userId, {}, { ip: client.ip ?? null });
    if (!revoked) throw new UnauthorizedException(AuthErrors.revoked);
  }

  private pair(
    accessToken: string,
    accessExpiresAt: Date,
    refreshToken: string,
    sessionId: string,
    now: Date,
  ): TokenPair {
    return {
      accessToken,
      refreshToken,
      tokenType: 'Bearer',
      // Both ends in whole seconds, as the token's own iat and exp are.
      expiresIn: Math.max(0, Math.floor(accessExpiresAt.getTime() / 1000) - Math.floor(now.getTime() / 1000)),
      sessionId,
    };
  }
}
