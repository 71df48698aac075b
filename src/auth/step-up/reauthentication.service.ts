import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { PasswordCheckService } from '../accounts/password-check.service.js';
import { UserRepository } from '../accounts/user.repository.js';
import { AUTH_CLOCK, AuthErrors, TOKEN_TYPE_ACCESS } from '../auth.constants.js';
import type { ClientInfo } from '../common/client-info.js';
import { theOneGiven } from '../common/validators.js';
import type { Clock } from '../common/clock.interface.js';
import { MfaService } from '../mfa/mfa.service.js';
import { SessionRepository } from '../sessions/session.repository.js';
import { amrOf } from '../tokens/amr.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { TokenService } from '../tokens/token.service.js';
import { passkeyMethods, PasskeysService } from '../passkeys/passkeys.service.js';
import { SecurityEventsService } from '../security-events/security-events.service.js';

export type ReauthenticationProof = { password: string } | { code: string } | { passkey: unknown };

export interface ReauthenticatedAccess {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  sessionId: string;
}

/**
 * `POST /auth/reauthenticate`: the signed-in user shows their password or a code from their app
 * again, throttled like a login; the session records the time and the method (its `amr` grows:
 * a password session re-authenticated with a code has shown two factors), and a new access
 * token carries both. The refresh token is not touched: its next rotation reads the session and
 * carries them on.
 */
@Injectable()
export class ReauthenticationService {
  constructor(
    private readonly passwords: PasswordCheckService,
    private readonly users: UserRepository,
    private readonly mfa: MfaService,
    private readonly sessions: SessionRepository,
    private readonly tokens: TokenService,
    private readonly passkeys: PasskeysService,
    private readonly events: SecurityEventsService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  async reauthenticate(
    user: AuthenticatedUser,
    proof: ReauthenticationProof,
    client: ClientInfo,
  ): Promise<ReauthenticatedAccess> {
    let methods: string[];
    if ('password' in proof) {
      await this.passwords.current(user.userId, proof.password, client);
      methods = ['pwd'];
    } else if ('passkey' in proof) {
      const owner = { userId: user.userId, sessionId: user.sessionId };
      const { userVerified } = await this.passkeys.verifyAssertion(proof.passkey, 'reauthenticate', owner, user.userId);
      methods = passkeyMethods(userVerified);
      await this.events.emit('passkey_login', { userId: user.userId, sessionId: user.sessionId, ip: client.ip });
    } else {
      const account = await this.users.findById(user.userId);
      if (!account) throw new UnauthorizedException(AuthErrors.revoked);
      await this.mfa.verifyCode(user.userId, account.email, proof.code, client);
      methods = ['otp'];
    }
    const shown = await this.sessions.methodsOf(user.sessionId);
    if (!shown) throw new UnauthorizedException(AuthErrors.revoked);
    const amr = amrOf([...shown, ...methods]);
    const now = this.clock.now();
    const session = await this.sessions.reauthenticated(user.sessionId, user.userId, now, amr);
    if (!session) throw new UnauthorizedException(AuthErrors.revoked);
    const access = this.tokens.issue(
      TOKEN_TYPE_ACCESS,
      {
        userId: user.userId,
        sessionId: user.sessionId,
        authenticatedAt: session.createdAt,
        authTime: now,
        amr,
        // The presenting token's: a role change would have ended this session.
        roles: user.roles,
      },
      session.expiresAt,
      now,
    );
    return {
      accessToken: access.token,
      tokenType: 'Bearer',
      expiresIn: Math.max(0, Math.floor(access.expiresAt.getTime() / 1000) - Math.floor(now.getTime() / 1000)),
      sessionId: user.sessionId,
    };
  }
}

/** Exactly one of `password`, `code` and `passkey`: 400 otherwise. */
export function reauthenticationProof(body: {
  password?: string | null;
  code?: string | null;
  passkey?: unknown;
}): ReauthenticationProof {
  const kind = theOneGiven(body, ['password', 'code', 'passkey'] as const);
  if (kind === 'password') return { password: body.password as string };
  if (kind === 'passkey') return { passkey: body.passkey };
  return { code: body.code as string };
}
