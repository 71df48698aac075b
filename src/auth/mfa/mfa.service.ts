import type { EventActor } from '../security-events/security-event.interface.js';
import { randomBytes } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  NotFoundException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { renderSVG } from 'uqr';
import { PasskeyRepository } from '../passkeys/passkey.repository.js';
import { PasskeysService } from '../passkeys/passkeys.service.js';
import { RevocationService } from '../revocation/revocation.service.js';
import { SessionRepository } from '../sessions/session.repository.js';
import { amrOf, isMultiFactor } from '../tokens/amr.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { AUTH_CLOCK, AuthErrors, DEFAULTS } from '../auth.constants.js';
import { UserRepository } from '../accounts/user.repository.js';
import type { ClientInfo } from '../common/client-info.js';
import type { Clock } from '../common/clock.interface.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { TokenService } from '../tokens/token.service.js';
import { type LoginAttempt, LoginThrottleService } from '../throttling/login-throttle.service.js';
import { MFA_SECRETS, MfaSecrets } from './mfa-secrets.js';
import { MfaRepository, type MfaTransaction, type PendingChallenge } from './mfa.repository.js';
import { newRecoveryCode, normalisedRecoveryCode, recoveryCodeHash } from './recovery-codes.js';
import { matchingStep, newTotpSecret, otpauthUrl } from './totp.js';

/** The methods a second step can be completed with, as `methods` names them. */
export type SecondFactorMethod = 'totp' | 'recovery_code' | 'passkey';

/** What a sign-in whose password was right answers when the user has a second factor. */
export interface MfaChallengeAnswer {
  mfaRequired: true;
  mfaToken: string;
  methods: SecondFactorMethod[];
}

/** The second factor shown: a code from the app, or a recovery code. */
export type SecondFactorProof = { code: string } | { recoveryCode: string } | { passkey: unknown };

/** A second step that succeeded: whom it signs in, and how. */
export interface CompletedChallenge {
  account: { id: string; email: string; passwordHash: string | null; emailVerifiedAt: Date | null };
  deviceName: string | null;
  method: SecondFactorMethod;
  /** The first step's methods (RFC 8176). */
  firstFactor: string[];
  /** The throttle's attempt of this step: its failures are cleared with the session. */
  attempt: LoginAttempt;
}

export interface MfaStatus {
  totp: boolean;
  /** Passkeys registered. */
  passkeys: number;
  recoveryCodesLeft: number;
}

/**
 * The second factor's rules: an authenticator app (TOTP) set up, turned on with a code from it,
 * turned off; recovery codes; and the second step of a sign-in (the mfaToken). Every code is
 * checked in a transaction that locks what it spends (the app's last step, the recovery code, the
 * challenge), so that no code, recovery code or mfaToken is ever accepted twice, on any instance.
 */
@Injectable()
export class MfaService {
  constructor(
    private readonly mfa: MfaRepository,
    private readonly users: UserRepository,
    private readonly throttle: LoginThrottleService,
    private readonly events: SecurityEventsService,
    private readonly sessions: SessionRepository,
    private readonly revocation: RevocationService,
    private readonly passkeys: PasskeyRepository,
    private readonly webauthn: PasskeysService,
    @Inject(MFA_SECRETS) private readonly secrets: MfaSecrets,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  async status(userId: string): Promise<MfaStatus> {
    const [{ totp, recoveryCodesLeft }, passkeys] = await Promise.all([
      this.mfa.status(userId),
      this.passkeys.countFor(userId),
    ]);
    return { totp, passkeys, recoveryCodesLeft };
  }

  /**
   * A new pending secret (replacing one set up before and never turned on); 409 when the app is
   * already on: turn it off first. The secret is shown this once, then only kept encrypted.
   */
  async setup(userId: string): Promise<{ secret: string; otpauthUrl: string }> {
    const user = await this.users.findById(userId);
    if (!user) throw new UnauthorizedException(AuthErrors.revoked);
    const secret = newTotpSecret();
    const saved = await this.mfa.savePending(userId, this.secrets.encryptTotpSecret(userId, secret), this.clock.now());
    if (!saved) throw new ConflictException('Two-factor authentication is already on');
    return { secret, otpauthUrl: otpauthUrl(secret, this.options.totpIssuer, user.email) };
  }

  /**
   * The QR code (SVG) of an otpauth URL, as setup answered it: drawn from what the page was given,
   * never read again from the database, so that the code and the secret shown beside it are one
   * (a setup by another session in between would otherwise put another secret in the picture).
   * It tells the caller nothing they did not send; 400 for anything but a TOTP URL.
   */
  qrCode(url: string): string {
    if (!/^otpauth:\/\/totp\/[^\s]+$/.test(url))
      throw new BadRequestException(['otpauthUrl must be an otpauth://totp/ URL']);
    return renderSVG(url, { border: 2 });
  }

  /**
   * Turns the pending app on with a code from it (400 `Invalid code` otherwise, nothing changed),
   * and answers the recovery codes, shown this once. The code was shown in this session: it now
   * counts as a two-factor session (a refresh carries that on); every other session of the user
   * ends, since none of them has shown the new factor (one opened by whoever had the password
   * could otherwise stay, and later change the factor).
   */
  async enable(
    user: AuthenticatedUser,
    code: string,
    client: Partial<ClientInfo> = {},
  ): Promise<{ recoveryCodes: string[] }> {
    const { userId, sessionId } = user;
    const now = this.clock.now();
    const events = this.events.change();
    const recoveryCodes = this.newRecoveryCodes();
    await this.mfa.transaction(async (tx) => {
      const totp = await tx.lockTotp(userId);
      if (!totp) throw new BadRequestException('Set up an authenticator app first');
      if (totp.enabled) throw new ConflictException('Two-factor authentication is already on');
      if (!(await this.acceptTotpCode(tx, userId, totp.secretEncrypted, code, now))) {
        throw new BadRequestException(AuthErrors.invalidCode);
      }
      await tx.enable(userId, now, this.hashes(userId, recoveryCodes));
      await events.write(tx.statements, 'mfa_enabled', { userId, sessionId, ip: client.ip });
    });
    events.announce();
    const shown = (await this.sessions.methodsOf(sessionId)) ?? [];
    await this.sessions.reauthenticated(sessionId, userId, now, amrOf([...shown, 'otp']));
    await this.revocation.revokeOtherSessions(userId, sessionId, { ip: client.ip ?? null });
    return { recoveryCodes };
  }

  /**
   * Removes the app (on or pending), the recovery codes and any sign-in waiting for its second
   * step. While it is on, only from a session that has shown it (signed in with a code, turned it
   * on, or re-authenticated with a code): 403 `Second factor required` otherwise, so that a
   * session opened with the password alone cannot take the factor away.
   */
  async disable(user: AuthenticatedUser, client: Partial<ClientInfo> = {}): Promise<void> {
    if ((await this.mfa.status(user.userId)).totp) await this.assertTwoFactorSession(user);
    const { userId, sessionId } = user;
    const events = this.events.change();
    await this.mfa.removeAll(userId, (tx) =>
      events.write(tx, 'mfa_disabled', { userId, sessionId, ip: client.ip ?? null }),
    );
    events.announce();
  }

  /**
   * An operator's reset (CLI `mfa reset`): the second factor removed, as disable() does; true when
   * there was one. The caller ends the user's sessions.
   */
  async reset(userId: string, actor: EventActor = { kind: 'system' }): Promise<boolean> {
    const events = this.events.change();
    const reason = actor.kind === 'admin' ? 'admin_reset' : 'operator_reset';
    const wasOn = await this.mfa.removeAll(userId, (tx) => events.write(tx, 'mfa_disabled', { userId, reason, actor }));
    events.announce();
    return wasOn;
  }

  /**
   * Ten new recovery codes, the old ones void; 409 when the app is not on; 403 `Second factor
   * required` from a session that has not shown it (as disable()).
   */
  async regenerateRecoveryCodes(user: AuthenticatedUser): Promise<{ recoveryCodes: string[] }> {
    const { userId } = user;
    if ((await this.mfa.status(userId)).totp) await this.assertTwoFactorSession(user);
    const recoveryCodes = this.newRecoveryCodes();
    const events = this.events.change();
    await this.mfa.transaction(async (tx) => {
      const totp = await tx.lockTotp(userId);
      if (!totp?.enabled) throw new ConflictException('Two-factor authentication is off');
      await tx.replaceRecoveryCodes(userId, this.clock.now(), this.hashes(userId, recoveryCodes));
      await events.write(tx.statements, 'recovery_codes_regenerated', { userId, sessionId: user.sessionId });
    });
    events.announce();
    return { recoveryCodes };
  }

  /**
   * The second step of this sign-in: an mfaToken (opaque, random, only its SHA-256 stored) that
   * lives `mfaChallengeTtl` and takes `mfaChallengeMaxFailures` wrong codes.
   */
  async challenge(
    account: { id: string; passwordHash: string | null },
    accountKey: string,
    deviceName: string | null,
    firstFactor: readonly string[] = ['pwd'],
    /** Whether the user's authenticator app is on (false: a sign-in at a provider by a user with passkeys only). */
    withApp = true,
  ): Promise<MfaChallengeAnswer> {
    const now = this.clock.now();
    const mfaToken = randomBytes(32).toString('base64url');
    await this.mfa.createChallenge({
      tokenHash: TokenService.hash(mfaToken),
      userId: account.id,
      accountKey,
      passwordFingerprint: passwordFingerprint(account.passwordHash),
      deviceName,
      now,
      expiresAt: new Date(now.getTime() + DEFAULTS.mfaChallengeTtl * 1000),
      firstFactor,
    });
    // A passkey is offered beside the app when the user has one, unless a passkey was the first step.
    const offerPasskey = !firstFactor.includes('hwk') && (await this.passkeys.countFor(account.id)) > 0;
    const methods: SecondFactorMethod[] = withApp ? ['totp', 'recovery_code'] : [];
    if (offerPasskey) methods.push('passkey');
    return { mfaRequired: true, mfaToken, methods };
  }

  /**
   * Completes a second step: 401 `Invalid or expired mfaToken` for a token that is unknown, used,
   * expired, dead or whose password changed since; 429 while the account is throttled from this
   * client; 401 `Invalid code` for a wrong code, which is a failed login of the account from this
   * client and one of the token's wrong codes.
   */
  async completeChallenge(mfaToken: string, proof: SecondFactorProof, client: ClientInfo): Promise<CompletedChallenge> {
    const tokenHash = TokenService.hash(mfaToken);
    const now = this.clock.now();
    const found = await this.pendingChallenge(tokenHash, now);
    // Counted as a failed login until it succeeds (then the session clears it), like a password;
    // and against the account's own, smaller allowance of wrong codes, over every client.
    const attempt = await this.throttle.beginForAccount(found.accountKey, client.ip, found.userId);
    const codeAttempt = await this.secondFactorAttempt(found.userId, client, attempt);
    // A passkey is checked first, outside the transaction: its challenge, signature and counter
    // are its own rows, and a transaction waiting on a second connection could starve the pool.
    // Never a passkey after a passkey: one key (one without user verification) is one factor.
    let passkeyVerified: boolean | undefined;
    if ('passkey' in proof) {
      passkeyVerified =
        !found.firstFactor.includes('hwk') && (await this.passkeyProof(found.userId, tokenHash, proof.passkey));
    }
    const method: SecondFactorMethod = 'code' in proof ? 'totp' : 'passkey' in proof ? 'passkey' : 'recovery_code';
    const events = this.events.change();
    const outcome = await this.mfa.transaction(async (tx) => {
      // Locked again: whatever another request did with it meanwhile is seen now.
      const challenge = await tx.lockChallenge(tokenHash, now);
      if (!challenge || challenge.passwordHash !== found.passwordHash) return null;
      const accepted = await this.acceptProof(tx, challenge.userId, proof, now, passkeyVerified);
      if (accepted) await tx.consumeChallenge(tokenHash);
      else await tx.failChallenge(tokenHash);
      const used = { userId: challenge.userId, ip: client.ip };
      if (accepted && method === 'recovery_code') await events.write(tx.statements, 'recovery_code_used', used);
      if (accepted && method === 'passkey') await events.write(tx.statements, 'passkey_login', used);
      return { challenge, accepted };
    });
    if (!outcome) throw new UnauthorizedException(AuthErrors.invalidMfaToken);
    const { challenge, accepted } = outcome;
    if (!accepted) {
      const exhausted = challenge.failedAttempts + 1 >= DEFAULTS.mfaChallengeMaxFailures;
      await this.events.emit('mfa_challenge_failed', {
        userId: challenge.userId,
        ip: client.ip,
        reason: exhausted ? 'challenge_exhausted' : 'wrong_code',
      });
      throw new UnauthorizedException(AuthErrors.invalidCode);
    }
    events.announce();
    await codeAttempt.withdrawn();
    return {
      account: accountOf(challenge),
      deviceName: challenge.deviceName,
      method,
      firstFactor: challenge.firstFactor,
      attempt,
    };
  }

  /**
   * Request options for a passkey as the second step of this sign-in: that user's passkeys, the
   * challenge bound to this second step (its mfaToken). 401 `Invalid or expired mfaToken` as completeChallenge says.
   */
  async passkeyOptions(mfaToken: string): Promise<unknown> {
    const tokenHash = TokenService.hash(mfaToken);
    const found = await this.pendingChallenge(tokenHash, this.clock.now());
    if (found.firstFactor.includes('hwk')) {
      throw new BadRequestException(
        'A passkey was the first step of this sign-in: the second is the authenticator app',
      );
    }
    return this.webauthn.authenticationOptions(
      'second_factor',
      { userId: found.userId, sessionId: null, mfaTokenHash: tokenHash },
      found.userId,
    );
  }

  /**
   * A code from the user's app for a re-authentication: throttled as a login of the account from
   * this client (429), 401 `Invalid code` when wrong (or when the user has no app on).
   */
  async verifyCode(userId: string, email: string, code: string, client: ClientInfo): Promise<void> {
    const attempt = await this.throttle.begin(email, client.ip, userId);
    const codeAttempt = await this.secondFactorAttempt(userId, client, attempt);
    const now = this.clock.now();
    const accepted = await this.mfa.transaction(async (tx) => {
      const totp = await tx.lockTotp(userId);
      return totp?.enabled === true && this.acceptTotpCode(tx, userId, totp.secretEncrypted, code, now);
    });
    if (!accepted) {
      await this.events.emit('mfa_challenge_failed', { userId, ip: client.ip, reason: 'reauthentication' });
      throw new UnauthorizedException(AuthErrors.invalidCode);
    }
    await codeAttempt.withdrawn();
    await attempt.succeeded();
  }

  /** 403 `Second factor required` unless this session has shown two factors (its row's amr, not the token's). */
  private async assertTwoFactorSession(user: AuthenticatedUser): Promise<void> {
    const shown = await this.sessions.methodsOf(user.sessionId);
    if (!shown || !isMultiFactor(shown)) throw new ForbiddenException(AuthErrors.secondFactorRequired);
  }

  /**
   * The second step of this mfaToken (hash) while it can still be completed; 401 `Invalid or
   * expired mfaToken` when it is unknown, used, expired, dead, or its password changed since.
   */
  private async pendingChallenge(tokenHash: string, now: Date): Promise<PendingChallenge> {
    const found = await this.mfa.transaction((tx) => tx.lockChallenge(tokenHash, now));
    if (!found || passwordFingerprint(found.passwordHash) !== found.passwordFingerprint) {
      throw new UnauthorizedException(AuthErrors.invalidMfaToken);
    }
    return found;
  }

  /** One of this user's passkeys answering a challenge handed out for this second step (its mfaToken). */
  private async passkeyProof(userId: string, mfaTokenHash: string, answer: unknown): Promise<boolean> {
    try {
      await this.webauthn.verifyAssertion(answer, 'second_factor', { userId, sessionId: null, mfaTokenHash }, userId);
      return true;
    } catch (error) {
      if (error instanceof UnauthorizedException || error instanceof NotFoundException) return false;
      throw error;
    }
  }

  /**
   * The code's attempt against the account's allowance of wrong codes; when that refuses (429),
   * the login attempt just counted is withdrawn: a refused attempt counts for no limit.
   */
  private async secondFactorAttempt(userId: string, client: ClientInfo, login: LoginAttempt): Promise<LoginAttempt> {
    try {
      return await this.throttle.beginSecondFactor(userId, client.ip);
    } catch (error) {
      await login.withdrawn().catch(() => undefined);
      throw error;
    }
  }

  /** The proof, checked and spent within the transaction; false when wrong or spent already. */
  private async acceptProof(
    tx: MfaTransaction,
    userId: string,
    proof: SecondFactorProof,
    now: Date,
    passkeyVerified: boolean | undefined,
  ): Promise<boolean> {
    if ('code' in proof) {
      const totp = await tx.lockTotp(userId);
      if (!totp?.enabled) return false;
      return this.acceptTotpCode(tx, userId, totp.secretEncrypted, proof.code, now);
    }
    // Verified before the transaction (it reads and writes on connections of its own): here only its outcome.
    if ('passkey' in proof) return passkeyVerified === true;
    const code = normalisedRecoveryCode(proof.recoveryCode);
    if (code === null) return false;
    return tx.spendRecoveryCode(userId, recoveryCodeHash(userId, code), now);
  }

  /** A code of the app's secret within a step of now, of a step after the last one accepted (then recorded). */
  private async acceptTotpCode(
    tx: MfaTransaction,
    userId: string,
    secretEncrypted: string,
    code: string,
    now: Date,
  ): Promise<boolean> {
    const step = matchingStep(this.secrets.decryptTotpSecret(userId, secretEncrypted), code, now);
    // acceptStep refuses a step at or before the last one accepted (RFC 6238, section 5.2).
    return step !== null && tx.acceptStep(userId, step);
  }

  private newRecoveryCodes(): string[] {
    return Array.from({ length: DEFAULTS.recoveryCodes }, () => newRecoveryCode());
  }

  private hashes(userId: string, codes: string[]): string[] {
    return codes.map((code) => recoveryCodeHash(userId, normalisedRecoveryCode(code) as string));
  }
}

/**
 * What a second step remembers of the password it followed: a password set, changed or reset
 * meanwhile voids it. An account without a password has one fingerprint, which any password set
 * later changes.
 */
function passwordFingerprint(passwordHash: string | null): string {
  return TokenService.hash(passwordHash ?? '');
}

function accountOf(challenge: PendingChallenge): CompletedChallenge['account'] {
  return {
    id: challenge.userId,
    email: challenge.email,
    passwordHash: challenge.passwordHash,
    emailVerifiedAt: challenge.emailVerifiedAt,
  };
}
