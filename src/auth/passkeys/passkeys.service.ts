import { randomUUID } from 'node:crypto';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
} from '@nestjs/common';
import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import type { ResolvedAuthOptions, ResolvedWebAuthn } from '../auth-module-options.interface.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { AUTH_CLOCK, AuthErrors } from '../auth.constants.js';
import { canonicalEmail } from '../accounts/email-address.js';
import { UserRepository } from '../accounts/user.repository.js';
import type { Clock } from '../common/clock.interface.js';
import { MAX_DEVICE_NAME_CHARS, truncateCodePoints } from '../common/client-address.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';
import { TokenService } from '../tokens/token.service.js';
import { PasswordCheckBudgetService } from '../throttling/password-check-budget.service.js';
import { RateLimitRepository } from '../throttling/rate-limit.repository.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { type ChallengeOwner, PasskeyRepository, type PasskeyView, type StoredPasskey } from './passkey.repository.js';
import type { WebAuthnPurpose } from './webauthn-challenge.entity.js';

export const INVALID_PASSKEY = 'Invalid passkey';
/** A credential id as WebAuthn JSON carries it: base64url, at most 1,023 bytes (1,364 characters). */
const CREDENTIAL_ID = /^[A-Za-z0-9_-]{1,1400}$/;
/** AuthenticatorTransport values (WebAuthn Level 3); the client's list is kept only as far as it names them. */
const TRANSPORTS = new Set(['usb', 'nfc', 'ble', 'smart-card', 'hybrid', 'internal', 'cable']);

/** The transports the browser reported, as hints for later options: known values, each once. */
function knownTransports(reported: unknown): string[] {
  if (!Array.isArray(reported)) return [];
  return [...new Set(reported.filter((transport): transport is string => TRANSPORTS.has(transport as string)))];
}

/** A passkey's answer that verified: whose, and whether the user was verified (PIN, biometrics). */
export interface VerifiedPasskey {
  passkey: StoredPasskey;
  userVerified: boolean;
}

/** RFC 8176 methods of a passkey: a key and the user's presence, and `mfa` when the user was verified. */
export function passkeyMethods(userVerified: boolean): string[] {
  return userVerified ? ['hwk', 'user', 'mfa'] : ['hwk', 'user'];
}

/** Seconds a challenge handed out with options stays good (and the browser's timeout). */
const CHALLENGE_TTL_SECONDS = 300;
export const PASSKEYS_OFF = 'Passkeys are not configured on this server';
export const INVALID_PASSKEY_RESPONSE = 'Invalid passkey response';

/** The challenge a response answers, from its clientDataJSON; null when it holds none. */
export function challengeOf(response: unknown): string | null {
  try {
    const data = (response as { response?: { clientDataJSON?: unknown } }).response?.clientDataJSON;
    if (typeof data !== 'string' || data.length > 4096) return null;
    const parsed = JSON.parse(Buffer.from(data, 'base64url').toString('utf8')) as { challenge?: unknown };
    return typeof parsed.challenge === 'string' && parsed.challenge.length <= 512 ? parsed.challenge : null;
  } catch {
    return null;
  }
}

/** A passkey as the API answers it. */
export function passkeyView(passkey: PasskeyView): PasskeyView {
  return { id: passkey.id, name: passkey.name, createdAt: passkey.createdAt, lastUsedAt: passkey.lastUsedAt };
}

/**
 * Passkeys (WebAuthn, `@simplewebauthn/server`): registering one for the signed-in user, and
 * listing, renaming and removing them. Every challenge is single use, bound to its purpose and to
 * the user and session that asked, and lives 5 minutes; attestation `none`, user verification and
 * resident keys preferred (discoverable credentials, for autofill).
 */
@Injectable()
export class PasskeysService {
  constructor(
    private readonly passkeys: PasskeyRepository,
    private readonly users: UserRepository,
    private readonly events: SecurityEventsService,
    private readonly budget: PasswordCheckBudgetService,
    private readonly limits: RateLimitRepository,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  /** The relying party; 404 when passkeys are not configured (no `webauthn` option). */
  relyingParty(): ResolvedWebAuthn {
    if (!this.options.webauthn) throw new NotFoundException(PASSKEYS_OFF);
    return this.options.webauthn;
  }

  /** Creation options for a new passkey of the signed-in user, excluding the ones they have. */
  async registrationOptions(user: AuthenticatedUser): Promise<unknown> {
    const rp = this.relyingParty();
    const account = await this.users.findById(user.userId);
    if (!account) throw new UnauthorizedException(AuthErrors.revoked);
    const existing = await this.passkeys.listFor(user.userId);
    const options = await generateRegistrationOptions({
      rpName: rp.rpName,
      rpID: rp.rpId,
      userName: account.email,
      // An opaque handle (the user's id), never the address: authenticators may show or sync it.
      userID: Buffer.from(user.userId.replaceAll('-', ''), 'hex'),
      attestationType: 'none',
      timeout: CHALLENGE_TTL_SECONDS * 1000,
      excludeCredentials: existing.map((passkey) => ({ id: passkey.credentialId, transports: passkey.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
    });
    await this.passkeys.saveChallenge(
      TokenService.hash(options.challenge),
      'register',
      { userId: user.userId, sessionId: user.sessionId },
      this.expiry(),
    );
    return options;
  }

  /** Verifies the authenticator's answer to those options and stores the passkey: 201 `{id, name, createdAt}`. */
  async register(
    user: AuthenticatedUser,
    response: unknown,
    name: string | undefined,
  ): Promise<{ id: string; name: string; createdAt: Date }> {
    const rp = this.relyingParty();
    const challenge = challengeOf(response);
    const now = this.clock.now();
    const owner = { userId: user.userId, sessionId: user.sessionId };
    if (
      challenge === null ||
      !(await this.passkeys.spendChallenge(TokenService.hash(challenge), 'register', owner, now))
    ) {
      throw new BadRequestException(INVALID_PASSKEY_RESPONSE);
    }
    let info;
    try {
      const verified = await verifyRegistrationResponse({
        response: response as RegistrationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        requireUserVerification: false,
      });
      if (!verified.verified) throw new Error('not verified');
      info = verified.registrationInfo;
    } catch {
      throw new BadRequestException(INVALID_PASSKEY_RESPONSE);
    }
    // The id is the authenticator's (up to 64 KiB in its data): only what fits the column, and
    // what sign-in accepts, is stored.
    if (!CREDENTIAL_ID.test(info.credential.id)) throw new BadRequestException(INVALID_PASSKEY_RESPONSE);
    const passkey = {
      id: randomUUID(),
      userId: user.userId,
      credentialId: info.credential.id,
      publicKey: info.credential.publicKey,
      counter: info.credential.counter,
      transports: knownTransports(info.credential.transports),
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
      name: truncateCodePoints(name?.trim() || 'Passkey', MAX_DEVICE_NAME_CHARS),
      createdAt: now,
    };
    if (!(await this.passkeys.insert(passkey))) throw new ConflictException('This passkey is registered already');
    // One statement wrote the passkey; its event follows it.
    await this.events.emit('passkey_added', {
      userId: user.userId,
      sessionId: user.sessionId,
      details: { name: passkey.name },
    });
    return { id: passkey.id, name: passkey.name, createdAt: passkey.createdAt };
  }

  async list(userId: string): Promise<PasskeyView[]> {
    this.relyingParty();
    return (await this.passkeys.listFor(userId)).map(passkeyView);
  }

  async rename(userId: string, id: string, name: string): Promise<PasskeyView> {
    this.relyingParty();
    const renamed = await this.passkeys.rename(userId, id, truncateCodePoints(name.trim(), MAX_DEVICE_NAME_CHARS));
    if (!renamed) throw new NotFoundException('No such passkey');
    return passkeyView(renamed);
  }

  /** 204; 409 when it is the user's last way to sign in (no password, no other passkey, no connected provider account). */
  async remove(user: AuthenticatedUser, id: string): Promise<void> {
    this.relyingParty();
    const events = this.events.change();
    const outcome = await this.passkeys.remove(user.userId, id, (tx) =>
      events.write(tx, 'passkey_removed', { userId: user.userId, sessionId: user.sessionId }),
    );
    if (outcome === 'missing') throw new NotFoundException('No such passkey');
    if (outcome === 'last') throw new ConflictException('This passkey is the last way to sign in to the account');
    events.announce();
  }

  /**
   * A passwordless sign-in's options: with `email`, that account's passkeys (read in the one
   * query an unknown address costs too), else any of this site's (autofill). Each writes a
   * challenge, so each counts against the client's budget of passkey sign-ins (429 past it), a
   * budget of its own: the sign-in page asks on every load. 404 first when passkeys are off.
   */
  async loginOptions(email: string | null, ip: string | null): Promise<unknown> {
    this.relyingParty();
    this.budget.judge(await this.limits.hit(this.budget.hitsFor(ip, 'passkey-options')), ip, null);
    const allow = email ? await this.passkeys.credentialsForEmail(canonicalEmail(email)) : [];
    return this.requestOptions('login', { userId: null, sessionId: null }, allow);
  }

  /**
   * Request options for navigator.credentials.get() limited to `userId`'s passkeys (a second
   * step, a re-authentication), the challenge bound to `owner`.
   */
  async authenticationOptions(purpose: WebAuthnPurpose, owner: ChallengeOwner, userId: string): Promise<unknown> {
    this.relyingParty();
    return this.requestOptions(purpose, owner, await this.passkeys.listFor(userId));
  }

  private async requestOptions(
    purpose: WebAuthnPurpose,
    owner: ChallengeOwner,
    allow: ReadonlyArray<{ credentialId: string; transports: string[] }>,
  ): Promise<unknown> {
    const rp = this.relyingParty();
    const options = await generateAuthenticationOptions({
      rpID: rp.rpId,
      allowCredentials: allow.map((passkey) => ({
        id: passkey.credentialId,
        transports: passkey.transports as AuthenticatorTransport[],
      })),
      userVerification: 'preferred',
      timeout: CHALLENGE_TTL_SECONDS * 1000,
    });
    await this.passkeys.saveChallenge(TokenService.hash(options.challenge), purpose, owner, this.expiry());
    return options;
  }

  /**
   * Verifies an answer of navigator.credentials.get() to a challenge handed out for `purpose` to
   * `owner`: the signature with the stored public key, origin, rpId, and (when `userId` is given)
   * that the passkey is that user's. 401 `Invalid passkey` otherwise. The signature counter must
   * move on unless it is 0 on both sides (synced passkeys keep none): one that does not is refused
   * and reported (`passkey_counter_regressed`), never silently.
   */
  async verifyAssertion(
    response: unknown,
    purpose: WebAuthnPurpose,
    owner: ChallengeOwner,
    userId: string | null,
  ): Promise<VerifiedPasskey> {
    const rp = this.relyingParty();
    const now = this.clock.now();
    const challenge = challengeOf(response);
    if (
      challenge === null ||
      !(await this.passkeys.spendChallenge(TokenService.hash(challenge), purpose, owner, now))
    ) {
      throw new UnauthorizedException(INVALID_PASSKEY);
    }
    const credentialId = (response as { id?: unknown }).id;
    // Only what a credential id can be (base64url) reaches the database.
    const passkey =
      typeof credentialId === 'string' && CREDENTIAL_ID.test(credentialId)
        ? await this.passkeys.findByCredentialId(credentialId)
        : null;
    if (!passkey || (userId !== null && passkey.userId !== userId) || !this.sameUserHandle(response, passkey.userId)) {
      throw new UnauthorizedException(INVALID_PASSKEY);
    }
    let info;
    try {
      const verified = await verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON,
        expectedChallenge: challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.rpId,
        // The counter is this service's to judge, once the signature is known to be good.
        credential: {
          id: passkey.credentialId,
          publicKey: new Uint8Array(passkey.publicKey),
          counter: 0,
          transports: [],
        },
        requireUserVerification: false,
      });
      if (!verified.verified) throw new Error('not verified');
      info = verified.authenticationInfo;
    } catch {
      throw new UnauthorizedException(INVALID_PASSKEY);
    }
    const counter = info.newCounter;
    // One conditional UPDATE judges it, against the counter as it is now (two uses at once of
    // one counter value: one of them is the clone).
    const use = await this.passkeys.used(passkey.id, counter, now);
    if (use.outcome === 'regressed') {
      await this.events.emit('passkey_counter_regressed', {
        userId: passkey.userId,
        reason: `${counter} <= ${use.stored}`,
      });
    }
    // Removed while this sign-in was under way: refused like an unknown passkey, nothing to report.
    if (use.outcome !== 'used') throw new UnauthorizedException(INVALID_PASSKEY);
    return { passkey, userVerified: info.userVerified };
  }

  /** The answer's user handle, when it carries one, names the passkey's owner (the id given at registration). */
  private sameUserHandle(response: unknown, userId: string): boolean {
    const handle = (response as { response?: { userHandle?: unknown } }).response?.userHandle;
    if (handle === undefined || handle === null || handle === '') return true;
    return (
      typeof handle === 'string' && Buffer.from(handle, 'base64url').toString('hex') === userId.replaceAll('-', '')
    );
  }

  private expiry(): Date {
    return new Date(this.clock.now().getTime() + CHALLENGE_TTL_SECONDS * 1000);
  }
}
