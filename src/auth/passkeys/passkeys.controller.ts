import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Patch,
  Post,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { authValidationPipe } from '../common/client-info.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { PasskeyResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import { RequireRecentAuth } from '../step-up/step-up.decorators.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import type { PasskeyView } from './passkey.repository.js';
import { RegisterPasskeyDto, RenamePasskeyDto } from './passkeys.dto.js';
import { PasskeysService } from './passkeys.service.js';

const RECENT_AUTH = 'Recent authentication required (sign in or POST /auth/reauthenticate within `recentAuthMaxAge`)';
const OFF = 'Passkeys are not configured on this server (no `webauthn` option)';

/** `/auth/passkeys`: the signed-in user's passkeys. */
@Controller('passkeys')
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class PasskeysController {
  constructor(private readonly passkeys: PasskeysService) {}

  @Post('register/options')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Options for navigator.credentials.create(): a new passkey for the caller',
    description: 'The challenge is single use, bound to this user and session, and lives 5 minutes.',
    success: { status: 200, description: 'PublicKeyCredentialCreationOptionsJSON' },
    errors: { 403: RECENT_AUTH, 404: OFF },
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
      403: RECENT_AUTH,
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
    @Param('id', new ParseUUIDPipe()) id: string,
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
      403: RECENT_AUTH,
      404: `No such passkey; or ${OFF}`,
      409: 'It is the last way to sign in to the account (no password, no other passkey)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async remove(@CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.passkeys.remove(user, id);
  }
}
