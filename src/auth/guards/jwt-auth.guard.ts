import { type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import { ModuleRef, Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AuthGuard } from '@nestjs/passport';
import {
  AUTH_JWT_STRATEGY,
  AuthErrors,
  IS_PUBLIC_KEY,
  STRICT_REVOCATION_KEY,
  STRICT_REVOCATION_REQUEST,
} from '../auth.constants.js';
import type { AuthenticatedUser } from '../interfaces/authenticated-user.interface.js';
import { extractBearer, JwtStrategy, type StrictFlag } from '../jwt.strategy.js';

/** Set on the request once this guard has authenticated it, so that a global and a route guard check once. */
const AUTHENTICATED = Symbol('auth:authenticated');

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
  private resolvedStrategy: JwtStrategy | undefined;

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
  ) {
    super();
  }

  /** Looked up across modules: a host may register this guard (APP_GUARD) in any of its modules. */
  private strategy(): JwtStrategy {
    if (!this.resolvedStrategy) {
      const strategy = this.moduleRef.get(JwtStrategy, { strict: false });
      if (!strategy) throw new Error('JwtAuthGuard needs AuthModule to be imported');
      this.resolvedStrategy = strategy;
    }
    return this.resolvedStrategy;
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    if (request[AUTHENTICATED]) return true;
    request[STRICT_REVOCATION_REQUEST] =
      this.reflector.getAllAndOverride<boolean>(STRICT_REVOCATION_KEY, targets) ?? false;

    // Fast path: a token whose signature passport-jwt has verified on this instance before skips
    // passport's per-request plumbing (about 50 µs here) and goes straight to the strategy's
    // check(): the same claim, expiry and revocation checks that validate() runs.
    const token = extractBearer(request as unknown as Request);
    const strategy = this.strategy();
    const payload = token ? strategy.recallVerified(token) : undefined;
    if (payload !== undefined) {
      let user: AuthenticatedUser;
      try {
        user = await strategy.check(request as unknown as Request & StrictFlag, payload);
      } catch (error) {
        return this.handleRequest(error, false, undefined);
      }
      request.user = user;
      request[AUTHENTICATED] = true;
      return true;
    }

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
