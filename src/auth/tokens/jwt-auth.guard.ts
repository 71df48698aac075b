import {
  type ExecutionContext,
  ForbiddenException,
  HttpException,
  Injectable,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { HttpAdapterHost, ModuleRef, Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import {
  AUTH_CLOCK,
  AUTH_JWT_STRATEGY,
  AuthErrors,
  IS_PUBLIC_KEY,
  REQUIRE_RECENT_AUTH_KEY,
  REQUIRE_SECOND_FACTOR_KEY,
  ROLES_KEY,
  REQUIRE_VERIFIED_EMAIL_KEY,
  STRICT_REVOCATION_KEY,
  STRICT_REVOCATION_REQUEST,
  UNAVAILABLE_RETRY_AFTER_SECONDS,
} from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import { accessTokenOf, scanAccessToken } from './bearer.js';
import { assertCsrfSafe, changesState } from '../cookies/csrf.js';
import { isDatabaseUnavailable } from '../common/database-errors.js';
import { AuthUnavailableException } from '../common/exceptions.js';
import type { ResolvedAuthOptions } from '../auth-module-options.interface.js';
import type { AuthenticatedUser } from './authenticated-user.interface.js';
import type { Clock } from '../common/clock.interface.js';
import { isMultiFactor } from './amr.js';
import { JwtStrategy } from './jwt.strategy.js';

/** What passport adds to a strategy for one authentication attempt. */
interface PassportActions {
  success(user: unknown, info?: unknown): void;
  fail(info?: unknown, status?: number): void;
  error(error: unknown): void;
  pass(): void;
  redirect(url: string, status?: number): void;
  authenticate(request: object, options?: object): void;
}

interface RouteFlags {
  isPublic: boolean;
  strict: boolean;
  verifiedEmail: boolean;
  /** @RequireRecentAuth(): the most seconds since auth_time (null: the module's recentAuthMaxAge); undefined without it. */
  recentAuth: number | null | undefined;
  /** @RequireSecondFactor(). */
  secondFactor: boolean;
  /** @Roles(): one of these roles is needed; undefined without it. */
  roles: readonly string[] | undefined;
  /** Any of the three above: the token's authentication is checked after its validity. */
  stepUp: boolean;
}

/**
 * Requests this guard has authenticated, so that a global and a route guard check once. A set
 * beside the request rather than a property on it: Express gives each request a new prototype,
 * and every property added to such an object costs V8 about 2 µs (measured), more than the whole
 * in-memory revocation check. The only property the guard adds on its fast path is `user`.
 */
const authenticatedRequests = new WeakSet<object>();

interface GuardedRequest {
  user?: AuthenticatedUser;
  method?: string;
  headers: Record<string, string | string[] | undefined>;
  [STRICT_REVOCATION_REQUEST]?: boolean;
}

/**
 * Bearer-token guard of the module. Use it globally (APP_GUARD) with @Public() on open routes, or
 * per route with @UseGuards(JwtAuthGuard). When the database cannot be reached and memory cannot
 * answer, it refuses with 503 and `Retry-After` (fail closed), never with a 500.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard(AUTH_JWT_STRATEGY) {
  private readonly logger = new Logger(JwtAuthGuard.name);
  private resolvedStrategy: JwtStrategy | undefined;
  private resolvedOptions: ResolvedAuthOptions | undefined;
  private resolvedClock: Clock | undefined;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- Nest's handlers and controllers are plain functions
  private readonly flagsByHandler = new WeakMap<Function, WeakMap<Function, RouteFlags>>();

  constructor(
    private readonly reflector: Reflector,
    private readonly moduleRef: ModuleRef,
    private readonly adapterHost: HttpAdapterHost,
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

  private authOptions(): ResolvedAuthOptions {
    this.resolvedOptions ??= this.moduleRef.get<ResolvedAuthOptions>(AUTH_RESOLVED_OPTIONS, { strict: false });
    return this.resolvedOptions;
  }

  /** @Public() and @StrictRevocationCheck() of a route, read once per handler and controller. */
  private routeFlags(context: ExecutionContext): RouteFlags {
    const handler = context.getHandler();
    const controller = context.getClass();
    let byController = this.flagsByHandler.get(handler);
    let flags = byController?.get(controller);
    if (flags === undefined) {
      const targets = [handler, controller];
      flags = {
        isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets) === true,
        strict: this.reflector.getAllAndOverride<boolean>(STRICT_REVOCATION_KEY, targets) === true,
        verifiedEmail: this.reflector.getAllAndOverride<boolean>(REQUIRE_VERIFIED_EMAIL_KEY, targets) === true,
        recentAuth: this.reflector.getAllAndOverride<number | null | undefined>(REQUIRE_RECENT_AUTH_KEY, targets),
        secondFactor: this.reflector.getAllAndOverride<boolean>(REQUIRE_SECOND_FACTOR_KEY, targets) === true,
        roles: this.reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, targets),
        stepUp: false,
      };
      flags.stepUp = flags.recentAuth !== undefined || flags.secondFactor || flags.roles !== undefined;
      if (!byController) this.flagsByHandler.set(handler, (byController = new WeakMap()));
      byController.set(controller, flags);
    }
    return flags;
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const flags = this.routeFlags(context);
    if (flags.isPublic) return true;
    const request = context.switchToHttp().getRequest<GuardedRequest>();
    if (authenticatedRequests.has(request)) return true;

    // Cut out in linear time, from the Authorization header or, without one, the access cookie. A
    // token this instance has verified before is recognised before its character set is even
    // tested (it passed that test when it was first seen).
    const scanned = scanAccessToken(request);
    // A cookie is sent by the browser whoever made the page: a state-changing request that
    // authenticates with one must show it is not a cross-site forgery, before anything changes.
    if (scanned.fromCookie && changesState(request)) assertCsrfSafe(request, this.authOptions().trustedOrigins);
    if (scanned.token === null) {
      throw new UnauthorizedException(scanned.reason === 'missing' ? AuthErrors.missing : AuthErrors.invalid);
    }
    try {
      // Fast path: a token whose signature passport-jwt has verified on this instance before skips
      // passport's per-request plumbing (about 50 µs here) and goes straight to the strategy's
      // check(): the same claim, expiry and revocation checks that validate() runs.
      const strategy = this.strategy();
      const payload = strategy.recallVerified(scanned.token);
      if (payload !== undefined) {
        // A strict route is checked in the database even for a token verified before.
        const checked = strategy.check(payload, flags.strict);
        request.user = checked instanceof Promise ? await checked : checked;
        if (flags.stepUp) this.assertStepUp(flags, request.user);
        if (flags.verifiedEmail) await strategy.assertEmailVerified(request.user.userId);
        authenticatedRequests.add(request);
        return true;
      }
      // Parsed in full once per request; passport-jwt reads the same result.
      if (accessTokenOf(request).token === null) throw new UnauthorizedException(AuthErrors.invalid);
      // The strategy's validate(), called by passport-jwt with the request, reads it there.
      request[STRICT_REVOCATION_REQUEST] = flags.strict;
      request.user = await this.authenticateWith(strategy, request);
      if (flags.stepUp) this.assertStepUp(flags, request.user);
      if (flags.verifiedEmail) await strategy.assertEmailVerified(request.user.userId);
      authenticatedRequests.add(request);
      return true;
    } catch (error) {
      throw this.refusal(error, context);
    }
  }

  /**
   * @Roles(), @RequireSecondFactor() and @RequireRecentAuth(), from the token alone (its `roles`,
   * `amr` and `auth_time`), against the module's clock: 403 with what is missing.
   */
  private assertStepUp(flags: RouteFlags, user: AuthenticatedUser): void {
    // The role first: to someone without it, the route's other demands are not worth telling.
    if (flags.roles && !flags.roles.some((role) => user.roles.includes(role))) {
      throw new ForbiddenException(AuthErrors.insufficientRole);
    }
    if (flags.secondFactor && !isMultiFactor(user.amr)) {
      throw new ForbiddenException(AuthErrors.secondFactorRequired);
    }
    if (flags.recentAuth !== undefined) {
      const maxAgeMs = (flags.recentAuth ?? this.authOptions().recentAuthMaxAge) * 1000;
      this.resolvedClock ??= this.moduleRef.get<Clock>(AUTH_CLOCK, { strict: false });
      if (this.resolvedClock.now().getTime() - user.authTime * 1000 > maxAgeMs) {
        throw new ForbiddenException(AuthErrors.recentAuthRequired);
      }
    }
  }

  /**
   * Runs this module's passport-jwt strategy instance on the request, as passport's authenticate
   * middleware would, but without passport's process-wide registry of strategies by name: with
   * two applications in one process (tests, a host that creates several), each guard must use
   * its own module's strategy, keys and database.
   */
  private authenticateWith(strategy: JwtStrategy, request: GuardedRequest): Promise<AuthenticatedUser> {
    return new Promise((resolve, reject) => {
      const attempt = Object.create(strategy) as JwtStrategy & PassportActions;
      attempt.success = (user) => resolve(user as AuthenticatedUser);
      attempt.fail = (info) => {
        try {
          resolve(this.handleRequest<AuthenticatedUser>(null, false, info));
        } catch (error) {
          reject(error);
        }
      };
      attempt.error = (error) => reject(error);
      attempt.pass = () => reject(new UnauthorizedException(AuthErrors.invalid));
      attempt.redirect = () => reject(new UnauthorizedException(AuthErrors.invalid));
      attempt.authenticate(request, {});
    });
  }

  override handleRequest<TUser = AuthenticatedUser>(error: unknown, user: TUser | false, info: unknown): TUser {
    // HttpExceptions carry the reason (revoked, expired); anything else is handled in refusal().
    if (error) throw error;
    if (user) return user;
    if (info instanceof Error && info.message === 'No auth token') throw new UnauthorizedException(AuthErrors.missing);
    throw new UnauthorizedException(AuthErrors.invalid);
  }

  /** An unreachable database is 503 with Retry-After (on the host's routes too, whatever their filters). */
  private refusal(error: unknown, context: ExecutionContext): unknown {
    if (error instanceof HttpException || !isDatabaseUnavailable(error)) return error;
    this.logger.warn(`Revocation check impossible, database unavailable: ${(error as Error).message}`);
    this.adapterHost.httpAdapter?.setHeader(
      context.switchToHttp().getResponse(),
      'Retry-After',
      String(UNAVAILABLE_RETRY_AFTER_SECONDS),
    );
    return new AuthUnavailableException();
  }
}
