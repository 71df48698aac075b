import { type CanActivate, type ExecutionContext, ForbiddenException, Inject, Injectable } from '@nestjs/common';
import { AuthErrors } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import { MfaService } from '../mfa/mfa.service.js';
import { isMultiFactor } from '../tokens/amr.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';

/**
 * After JwtAuthGuard (which has checked the admin role and a recent authentication): an admin
 * who has a second factor (an authenticator app or a passkey) must have shown it in this session
 * (`amr` has `mfa`), else 403 `Second factor required`. One read of the admin's factors.
 */
@Injectable()
export class AdminSecondFactorGuard implements CanActivate {
  constructor(
    private readonly mfa: MfaService,
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const user = context.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user;
    if (isMultiFactor(user.amr)) return true;
    const { totp, passkeys } = await this.mfa.status(user.userId);
    // Passkeys count only while this server takes them (else nobody could show one).
    if (totp || (passkeys > 0 && this.options.webauthn)) throw new ForbiddenException(AuthErrors.secondFactorRequired);
    return true;
  }
}
