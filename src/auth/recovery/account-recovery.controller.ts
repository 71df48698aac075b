import {
  Body,
  Controller,
  HttpCode,
  HttpStatus,
  Post,
  Req,
  Res,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { authValidationPipe, clientInfo } from '../common/client-info.js';
import { Public } from '../tokens/public.decorator.js';
import { EmailDto, ResetPasswordDto, VerifyEmailDto } from './account-recovery.dto.js';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import type { ClientRequest } from '../common/client-address.js';
import { CookieTransportService } from '../cookies/cookie-transport.service.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { MailRequestedResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { AccountRecoveryService } from './account-recovery.service.js';

/** The answers to a mail request: the same whether the account exists or not. */
export const MAIL_REQUEST_ANSWERS = {
  reset: 'If an account exists for this email, a link to reset its password is on its way',
  verification: 'If this email belongs to an account not yet verified, a verification link is on its way',
} as const;

const NOT_FOUND = 'Without mail configured (the `mail` option), these routes do not exist';
const THROTTLED =
  'Too many requests from this client, or for this email (`mailMaxPerIp`, `mailMaxPerEmail` per `mailWindow`)';
const INVALID_LINK = '`Invalid or expired link`: a token that is used, expired, replaced by a newer one, or unknown';

/** Password reset and email verification by mail (see AccountRecoveryService). */
@Controller()
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class AccountRecoveryController {
  constructor(
    private readonly recovery: AccountRecoveryService,
    private readonly transport: CookieTransportService,
  ) {}

  @Public()
  @Post('password/forgot')
  @ApiRoute({
    summary: 'Ask for a password reset link by mail',
    description: 'The same answer, in about the same time, whether an account has this email or not.',
    bearer: false,
    body: true,
    success: {
      status: 202,
      description: 'Accepted (a mail is sent only to an existing account)',
      type: MailRequestedResponse,
    },
    errors: { 404: NOT_FOUND, 429: THROTTLED },
  })
  @HttpCode(HttpStatus.ACCEPTED)
  async forgot(@Body() body: EmailDto, @Req() request: ClientRequest): Promise<{ message: string }> {
    await this.recovery.forgotPassword(body.email, clientInfo(request));
    return { message: MAIL_REQUEST_ANSWERS.reset };
  }

  @Public()
  @Post('password/reset')
  @ApiRoute({
    summary: 'Set a new password with the token of a reset link',
    description: 'Every session of the user ends at once, on every instance (as logout-all); a suspension stays.',
    bearer: false,
    body: true,
    success: { status: 204, description: 'The password is set; sign in with it' },
    errors: {
      400: `${INVALID_LINK}; or a new password that fails the policy`,
      404: NOT_FOUND,
      429: 'Too many reset attempts from this client (`mailMaxPerIp` per `mailWindow`)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async reset(
    @Body() body: ResetPasswordDto,
    @Req() request: ClientRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<void> {
    await this.recovery.resetPassword(body.token, body.newPassword, clientInfo(request));
    // This browser's session (if any) has just ended with the others.
    this.transport.clearIfUsed(request, response);
  }

  @Public()
  @Post('email/verify')
  @ApiRoute({
    summary: 'Confirm the email address with the token of a verification link',
    bearer: false,
    body: true,
    success: { status: 204, description: 'The address is verified' },
    errors: { 400: INVALID_LINK, 404: NOT_FOUND },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async verify(@Body() body: VerifyEmailDto): Promise<void> {
    await this.recovery.verifyEmail(body.token);
  }

  @Public()
  @Post('email/verify/resend')
  @ApiRoute({
    summary: 'Ask for a new verification link by mail',
    description: 'The same answer whether the address is an account’s, verified already, or unknown.',
    bearer: false,
    body: true,
    success: { status: 202, description: 'Accepted', type: MailRequestedResponse },
    errors: { 404: NOT_FOUND, 429: THROTTLED },
  })
  @HttpCode(HttpStatus.ACCEPTED)
  async resend(@Body() body: EmailDto, @Req() request: ClientRequest): Promise<{ message: string }> {
    await this.recovery.resendVerification(body.email, clientInfo(request));
    return { message: MAIL_REQUEST_ANSWERS.verification };
  }
}
