import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Param,
  Patch,
  Post,
  Req,
  Res,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { CanonicalUuidPipe } from '../common/validators.js';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { authValidationPipe, clientInfo, type HttpRequest } from '../common/client-info.js';
import { type CookieSession, CookieTransportService } from '../cookies/cookie-transport.service.js';
import { AuthService } from '../login/auth.service.js';
import type { TokenPair } from '../login/token-pair.interface.js';
import type { MfaChallengeAnswer } from '../mfa/mfa.service.js';
import { Public } from '../tokens/public.decorator.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { MfaChallengeResponse, PasskeyResponse, TokenPairResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import { RECENT_AUTH_REFUSAL, RequireRecentAuth } from '../step-up/step-up.decorators.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import type { PasskeyView } from './passkey.repository.js';
import { PasskeyAnswerDto, PasskeyLoginOptionsDto, RegisterPasskeyDto, RenamePasskeyDto } from './passkeys.dto.js';
import { PasskeysService } from './passkeys.service.js';

const OFF = 'Passkeys are not configured on this server (no `webauthn` option)';

/** `/auth/passkeys`: the signed-in user's passkeys. */
@Controller('passkeys')
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class PasskeysController {
  constructor(
    private readonly passkeys: PasskeysService,
    private readonly auth: AuthService,
    private readonly transport: CookieTransportService,
  ) {}

  @Public()
  @Post('login/options')
  @ApiRoute({
    csrf: true,
    summary: 'Options for navigator.credentials.get(): a sign-in with a passkey',
    description:
      'With `email`, that account’s passkeys are allowed; without, any passkey of this site may answer (discoverable credentials: autofill). The challenge is single use and lives 5 minutes.',
    bearer: false,
    body: true,
    success: { status: 200, description: 'PublicKeyCredentialRequestOptionsJSON' },
    errors: { 404: OFF, 429: 'Too many sign-in checks from this client (the budget of password checks)' },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  async loginOptions(@Body() body: PasskeyLoginOptionsDto, @Req() request: HttpRequest): Promise<unknown> {
    return this.passkeys.loginOptions(body.email?.trim() || null, clientInfo(request).ip);
  }

  @Public()
  @Post('login')
  @ApiRoute({
    csrf: true,
    summary: 'Sign in with a passkey: exactly what a login answers',
    description:
      '`amr` `hwk user`, with `mfa` when the authenticator verified the user. A passkey that did not, for a user with an authenticator app: `{mfaRequired: true, mfaToken, methods}` as after a password. The answer carries `Cache-Control: no-store`.',
    bearer: false,
    body: true,
    success: { status: 200, description: 'Signed in', type: TokenPairResponse, orType: MfaChallengeResponse },
    errors: {
      401: '`Invalid passkey`: unknown, not an answer to a sign-in challenge, spent or expired challenge, another origin or rpId, a bad signature, or a signature counter that did not increase',
      403: 'Account suspended until the given time',
      404: OFF,
    },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async login(
    @Body() body: PasskeyAnswerDto,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<TokenPair | CookieSession | MfaChallengeAnswer> {
    const cookies = this.transport.requested(request);
    const answer = await this.auth.loginWithPasskey(body.response, clientInfo(request));
    if ('mfaRequired' in answer) return answer;
    return cookies ? this.transport.deliver(request, response, answer) : answer;
  }

  @Post('register/options')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Options for navigator.credentials.create(): a new passkey for the caller',
    description: 'The challenge is single use, bound to this user and session, and lives 5 minutes.',
    success: { status: 200, description: 'PublicKeyCredentialCreationOptionsJSON' },
    errors: { 403: RECENT_AUTH_REFUSAL, 404: OFF },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  registrationOptions(@CurrentUser() user: AuthenticatedUser): Promise<unknown> {
    return this.passkeys.registrationOptions(user);
  }

  @Post('register')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Store the passkey the authenticator made with those options',
    body: true,
    success: { status: 201, description: 'Registered', type: PasskeyResponse },
    errors: {
      400: '`Invalid passkey response`: not an answer to a challenge handed to this session, expired, of another origin or rpId, or not verified',
      403: RECENT_AUTH_REFUSAL,
      404: OFF,
      409: 'This passkey is registered already',
    },
  })
  register(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: RegisterPasskeyDto,
  ): Promise<{ id: string; name: string; createdAt: Date }> {
    return this.passkeys.register(user, body.response, body.name);
  }

  @Get()
  @ApiRoute({
    summary: 'The caller’s passkeys',
    success: { status: 200, description: 'Oldest first', type: PasskeyResponse, isArray: true },
    errors: { 404: OFF },
  })
  list(@CurrentUser() user: AuthenticatedUser): Promise<PasskeyView[]> {
    return this.passkeys.list(user.userId);
  }

  @Patch(':id')
  @ApiRoute({
    csrf: true,
    summary: 'Rename a passkey',
    body: true,
    success: { status: 200, description: 'Renamed', type: PasskeyResponse },
    errors: { 404: `No such passkey; or ${OFF}` },
  })
  rename(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', new CanonicalUuidPipe()) id: string,
    @Body() body: RenamePasskeyDto,
  ): Promise<PasskeyView> {
    return this.passkeys.rename(user.userId, id, body.name);
  }

  @Delete(':id')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Remove a passkey',
    success: { status: 204, description: 'Removed' },
    errors: {
      400: 'The id is not a UUID',
      403: RECENT_AUTH_REFUSAL,
      404: `No such passkey; or ${OFF}`,
      409: 'It is the last way to sign in to the account (no password, no other passkey, no connected provider account)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async remove(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', new CanonicalUuidPipe()) id: string,
  ): Promise<void> {
    await this.passkeys.remove(user, id);
  }
}
