import { type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { AUTH_JWT_STRATEGY, AuthErrors, IS_PUBLIC_KEY, STRICT_REVOCATION_KEY } from '../auth.constants.js';
import type { AuthenticatedUser } from '../interfaces/authenticated-user.interface.js';

/** Set on the request once this guard has authenticated it, so that a global and a route guard check once. */
const AUTHENTICATED = Symbol('auth:authenticated');
/** Set on the request of a route marked @StrictRevocationCheck(). */
export const STRICT_REVOCATION_REQUEST = Symbol('auth:strictRevocation');

interface GuardedRequest {
  user?: AuthenticatedUser;
  [AUTHENTICATED]?: boolean;
  [STRICT_REVOCATION_REQUEST]?: boolean;
}

/**
 * Bearer-token guard of the module. Use it globally (APP_GUARD) with @Public() on open routes, or
 * per route with @UseGuards(JwtAuthGuard).
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(AUTH_JWT_STRATEGY) {
  constructor(private readonly reflector: Reflector) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    if (request[AUTHENTICATED]) return true;
    request[STRICT_REVOCATION_REQUEST] =
      this.reflector.getAllAndOverride<boolean>(STRICT_REVOCATION_KEY, targets) ?? false;
    const allowed = (await super.canActivate(context)) as boolean;
    request[AUTHENTICATED] = allowed;
    return allowed;
  }

  override handleRequest<TUser = AuthenticatedUser>(error: unknown, user: TUser | false, info: unknown): TUser {
    // HttpExceptions carry the reason (revoked, expired); anything else is a server fault, not the client's.
    if (error) throw error;
    if (user) return user;
    if (info instanceof Error && info.message === 'No auth token') throw new UnauthorizedException(AuthErrors.missing);
    throw new UnauthorizedException(AuthErrors.invalid);
  }
}
