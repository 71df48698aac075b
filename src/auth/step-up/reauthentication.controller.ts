import {
  Body,
  Controller,
  Header,
  HttpCode,
  HttpStatus,
  Post,
  Req,
  Res,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { authValidationPipe, clientInfo, type HttpRequest } from '../common/client-info.js';
import { type CookieSession, CookieTransportService } from '../cookies/cookie-transport.service.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { AccessTokenResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { ReauthenticateDto } from './reauthenticate.dto.js';
import { PasskeysService } from '../passkeys/passkeys.service.js';
import {
  type ReauthenticatedAccess,
  ReauthenticationService,
  reauthenticationProof,
} from './reauthentication.service.js';

/** `POST /auth/reauthenticate`: step-up before a sensitive change. */
@Controller()
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class ReauthenticationController {
  constructor(
    private readonly reauthentication: ReauthenticationService,
    private readonly transport: CookieTransportService,
    private readonly passkeys: PasskeysService,
  ) {}

  @Post('reauthenticate/passkey-options')
  @ApiRoute({
    csrf: true,
    summary: 'Options for navigator.credentials.get(): re-authenticate with one of the caller’s passkeys',
    description: 'The challenge is single use, bound to this user and session, 5 minutes.',
    success: { status: 200, description: 'PublicKeyCredentialRequestOptionsJSON' },
    errors: { 404: 'Passkeys are not configured on this server' },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  passkeyOptions(@CurrentUser() user: AuthenticatedUser): Promise<unknown> {
    return this.passkeys.authenticationOptions(
      'reauthenticate',
      { userId: user.userId, sessionId: user.sessionId },
      user.userId,
    );
  }

  @Post('reauthenticate')
  @ApiRoute({
    csrf: true,
    summary: 'Authenticate again (password, a code from the app, or a passkey): a fresh `auth_time` for this session',
    description:
      'Answers a new access token for the same session (with `X-Auth-Transport: cookie`: the access cookie, and `{expiresIn, sessionId}`); the refresh token stays. Throttled like logins. The answer carries `Cache-Control: no-store`.',
    body: true,
    success: { status: 200, description: 'Re-authenticated', type: AccessTokenResponse },
    errors: {
      400: 'Not exactly one of `password`, `code` and `passkey`; or a body that fails validation',
      401: '`Current password is incorrect`, `Invalid code` or `Invalid passkey`; or the token is not valid',
      429: 'Too many failed logins for this account from this client, from this client, or for this account',
    },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async reauthenticate(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ReauthenticateDto,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<ReauthenticatedAccess | CookieSession> {
    const proof = reauthenticationProof(body);
    const cookies = this.transport.requested(request);
    const access = await this.reauthentication.reauthenticate(user, proof, clientInfo(request));
    return cookies ? this.transport.deliverAccess(response, access) : access;
  }
}
