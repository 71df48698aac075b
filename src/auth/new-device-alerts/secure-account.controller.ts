import { Body, Controller, HttpCode, HttpStatus, Post, UseFilters, UseGuards, UsePipes } from '@nestjs/common';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { authValidationPipe, Client, type ClientInfo } from '../common/client-info.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { ApiArea } from '../openapi/swagger.js';
import { VerifyEmailDto } from '../recovery/account-recovery.dto.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { Public } from '../tokens/public.decorator.js';
import { NewDeviceAlertsService } from './new-device-alerts.service.js';

/** `POST /auth/account/secure`: the "This wasn't me" link of a new-device alert. */
@Controller('account')
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class SecureAccountController {
  constructor(private readonly alerts: NewDeviceAlertsService) {}

  @Public()
  @Post('secure')
  @ApiRoute({
    summary: 'Secure the account from a new-device alert’s link: sign out everywhere, mail a password reset link',
    description:
      'The `token` of the “This wasn’t me” link (single use, 24 hours). Every session of the account ends on every instance, and a password reset link is mailed to the account’s address.',
    bearer: false,
    body: true,
    success: { status: 204, description: 'Signed out everywhere; a reset link is on its way' },
    errors: {
      400: '`Invalid or expired link` (used, expired, replaced by a newer alert’s, or unknown)',
      404: 'No mail configured: no alerts',
      429: 'Too many links submitted from this client; retry after `Retry-After` seconds',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async secure(@Body() body: VerifyEmailDto, @Client() client: ClientInfo): Promise<void> {
    await this.alerts.secure(body.token, client);
  }
}
