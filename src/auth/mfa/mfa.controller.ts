import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Post,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { authValidationPipe, Client, type ClientInfo } from '../common/client-info.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { MfaStatusResponse, RecoveryCodesResponse, TotpSetupResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import { RECENT_AUTH_REFUSAL, RequireRecentAuth } from '../step-up/step-up.decorators.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { QrCodeDto, TotpCodeDto } from './mfa.dto.js';
import { MfaService, type MfaStatus } from './mfa.service.js';

/** `/auth/mfa`: the signed-in user's second factor. Every change needs a recent authentication. */
@Controller('mfa')
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class MfaController {
  constructor(private readonly mfa: MfaService) {}

  @Get()
  @ApiRoute({
    summary: 'The second factors of the caller',
    success: { status: 200, description: 'What is on', type: MfaStatusResponse },
  })
  status(@CurrentUser() user: AuthenticatedUser): Promise<MfaStatus> {
    return this.mfa.status(user.userId);
  }

  @Post('totp/setup')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Start setting up an authenticator app: a new secret, pending until turned on',
    description: 'The secret is shown this once. The answer carries `Cache-Control: no-store`.',
    success: { status: 200, description: 'The pending secret', type: TotpSetupResponse },
    errors: { 403: RECENT_AUTH_REFUSAL, 409: 'Two-factor authentication is already on' },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  setup(@CurrentUser() user: AuthenticatedUser): Promise<{ secret: string; otpauthUrl: string }> {
    return this.mfa.setup(user.userId);
  }

  @Post('totp/qr')
  @ApiRoute({
    csrf: true,
    summary: 'Draws an otpauth URL (as setup answered it) as a QR code (image/svg+xml), for a page to show inline',
    description:
      'Stateless: the picture is of the URL sent, never of a secret read again, so that it always matches the secret shown beside it.',
    body: true,
    success: { status: 200, description: 'An SVG document' },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Content-Type', 'image/svg+xml; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Content-Security-Policy', "default-src 'none'")
  qrCode(@Body() body: QrCodeDto): string {
    return this.mfa.qrCode(body.otpauthUrl);
  }

  @Post('totp/enable')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Turn the pending authenticator app on with a code from it',
    description: 'Answers ten recovery codes, shown this once. The answer carries `Cache-Control: no-store`.',
    body: true,
    success: { status: 200, description: 'On; the recovery codes', type: RecoveryCodesResponse },
    errors: {
      400: '`Invalid code` (wrong, stale or used): nothing turned on; or no app being set up',
      403: RECENT_AUTH_REFUSAL,
      409: 'Two-factor authentication is already on',
    },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  enable(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: TotpCodeDto,
    @Client() client: ClientInfo,
  ): Promise<{ recoveryCodes: string[] }> {
    return this.mfa.enable(user, body.code, client);
  }

  @Delete('totp')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Turn the authenticator app off (its recovery codes go with it)',
    success: { status: 204, description: 'Off' },
    errors: {
      403: `${RECENT_AUTH_REFUSAL}; or \`Second factor required\`: this session has not shown the app (re-authenticate with a code)`,
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async disable(@CurrentUser() user: AuthenticatedUser, @Client() client: ClientInfo): Promise<void> {
    await this.mfa.disable(user, client);
  }

  @Post('recovery-codes')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Ten new recovery codes; the old ones stop working',
    description: 'The answer carries `Cache-Control: no-store`.',
    success: { status: 200, description: 'The new codes, shown this once', type: RecoveryCodesResponse },
    errors: {
      403: `${RECENT_AUTH_REFUSAL}; or \`Second factor required\`: this session has not shown the app (re-authenticate with a code)`,
      409: 'Two-factor authentication is off',
    },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  regenerate(@CurrentUser() user: AuthenticatedUser): Promise<{ recoveryCodes: string[] }> {
    return this.mfa.regenerateRecoveryCodes(user);
  }
}
