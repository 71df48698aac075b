import {
  BadRequestException,
  Body,
  Controller,
  Header,
  HttpCode,
  HttpStatus,
  Post,
  Req,
  Res,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { AuthErrors } from '../auth.constants.js';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { theOneGiven } from '../common/validators.js';
import { authValidationPipe, clientInfo, type HttpRequest } from '../common/client-info.js';
import { type CookieSession, CookieTransportService } from '../cookies/cookie-transport.service.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { MfaChallengeResponse, TokenPairResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { Public } from '../tokens/public.decorator.js';
import { AuthService } from './auth.service.js';
import { LoginDto } from './login.dto.js';
import { RefreshDto } from './refresh.dto.js';
import type { TokenPair } from './token-pair.interface.js';
import { LoginMfaDto, MfaTokenDto } from '../mfa/mfa.dto.js';
import { type MfaChallengeAnswer, MfaService, type SecondFactorProof } from '../mfa/mfa.service.js';

/** Exactly one of the two: 400 otherwise, before anything is looked up. */
function secondFactorProof(body: LoginMfaDto): SecondFactorProof {
  const kind = theOneGiven(body, ['code', 'recoveryCode', 'passkey'] as const);
  if (kind === 'code') return { code: body.code as string };
  if (kind === 'passkey') return { passkey: body.passkey };
  return { recoveryCode: body.recoveryCode as string };
}

/** `/auth/login`, `refresh`, `logout`, `logout-all`: a session's tokens, from sign-in to sign-out. */
@Controller()
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly transport: CookieTransportService,
    private readonly mfa: MfaService,
  ) {}

  // Token responses must never be stored by a browser or an intermediary (RFC 6749, section 5.1).
  @Public()
  @Post('login')
  @ApiRoute({
    csrf: true,
    summary: 'Sign in: opens a session (a device) and returns its first token pair',
    description: 'The answer carries `Cache-Control: no-store`.',
    bearer: false,
    body: true,
    success: {
      status: 200,
      description:
        'Signed in. With `X-Auth-Transport: cookie`: only `{expiresIn, sessionId}`, the tokens in the `__Host-auth_access` and `__Secure-auth_refresh` cookies. For a user with a second factor: `{mfaRequired: true, mfaToken, methods}` instead (MfaChallengeResponse), no token and no cookie: continue with POST /auth/login/mfa',
      type: TokenPairResponse,
      orType: MfaChallengeResponse,
    },
    errors: {
      401: 'Invalid email or password',
      403: 'Account suspended until the given time (said only once the password was right)',
      429: 'Too many failed logins for this account from this client, from this client, or for this account',
    },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async login(
    @Body() body: LoginDto,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<TokenPair | CookieSession | MfaChallengeAnswer> {
    const cookies = this.transport.requested(request);
    const answer = await this.auth.login(body.email, body.password, body.deviceName ?? null, clientInfo(request));
    // The second step is still to come: no token, and no cookie, whatever the transport.
    if ('mfaRequired' in answer) return answer;
    return cookies ? this.transport.deliver(request, response, answer) : answer;
  }

  @Public()
  @Post('login/mfa')
  @ApiRoute({
    csrf: true,
    summary: 'Second step of a sign-in: the mfaToken and a code from the authenticator app, or a recovery code',
    description:
      'Answers exactly what a login answers (tokens, or cookies with `X-Auth-Transport: cookie`), with `amr` `pwd otp mfa`. The mfaToken is single use, lives 5 minutes and dies after 5 wrong codes; wrong codes are failed logins of the account from this client. The answer carries `Cache-Control: no-store`.',
    bearer: false,
    body: true,
    success: { status: 200, description: 'Signed in', type: TokenPairResponse },
    errors: {
      400: 'Not exactly one of `code`, `recoveryCode` and `passkey`; or a body that fails validation',
      401: '`Invalid code`; or `Invalid or expired mfaToken: sign in again`',
      403: 'Account suspended until the given time',
      429: 'Too many failed logins for this account from this client, from this client, or for this account',
    },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async loginMfa(
    @Body() body: LoginMfaDto,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<TokenPair | CookieSession> {
    const cookies = this.transport.requested(request);
    const pair = await this.auth.completeMfaLogin(body.mfaToken, secondFactorProof(body), clientInfo(request));
    return cookies ? this.transport.deliver(request, response, pair) : pair;
  }

  @Public()
  @Post('login/mfa/passkey-options')
  @ApiRoute({
    csrf: true,
    summary: 'Options for navigator.credentials.get(): a passkey as the second step of this sign-in',
    description: 'The user’s passkeys only; the challenge is single use, bound to the user, 5 minutes.',
    bearer: false,
    body: true,
    success: { status: 200, description: 'PublicKeyCredentialRequestOptionsJSON' },
    errors: { 401: 'Invalid or expired mfaToken: sign in again', 404: 'Passkeys are not configured on this server' },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  passkeyOptions(@Body() body: MfaTokenDto): Promise<unknown> {
    return this.mfa.passkeyOptions(body.mfaToken);
  }

  @Public()
  @Post('refresh')
  @ApiRoute({
    csrf: true,
    summary: 'Rotate the refresh token: a new pair for the same session',
    description:
      'The refresh token used is rotated out. Presenting a rotated-out token again after the grace period (`refreshReuseGrace`) is taken as theft and ends the session. The answer carries `Cache-Control: no-store`.',
    bearer: false,
    body: true,
    success: {
      status: 200,
      description:
        'A new pair (same `sessionId`). With `X-Auth-Transport: cookie`: the refresh cookie is read, only `{expiresIn, sessionId}` comes back, the tokens in new cookies',
      type: TokenPairResponse,
    },
    errors: { 401: 'Invalid, expired, rotated-out or revoked refresh token; the session may have ended' },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async refresh(
    @Body() body: RefreshDto,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<TokenPair | CookieSession> {
    if (this.transport.requested(request)) {
      // Cookie transport: the refresh token is the cookie's, never the body's.
      const token = this.transport.refreshToken(request);
      if (token === null) throw new UnauthorizedException(AuthErrors.missingRefreshCookie);
      return this.transport.deliver(request, response, await this.auth.refresh(token));
    }
    // IsOptional lets null through as well as a missing field: neither is a token.
    if (body.refreshToken === undefined || body.refreshToken === null) {
      throw new BadRequestException(['refreshToken must be a string']);
    }
    return this.auth.refresh(body.refreshToken);
  }

  @Post('logout')
  @ApiRoute({
    csrf: true,
    summary: 'Sign out this session',
    success: { status: 204, description: 'The session ended: its tokens are refused at once everywhere' },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async logout(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<void> {
    await this.auth.logout(user, clientInfo(request));
    this.transport.clearIfUsed(request, response);
  }

  @Post('logout-all')
  @ApiRoute({
    csrf: true,
    summary: 'Sign out every session of the caller',
    success: { status: 204, description: 'Every session of the user ended' },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async logoutAll(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<void> {
    await this.auth.logoutAll(user, clientInfo(request));
    this.transport.clearIfUsed(request, response);
  }
}
