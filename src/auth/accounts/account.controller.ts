import {
  Body,
  Controller,
  Delete,
  Get,
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
import type { ClientRequest } from '../common/client-address.js';
import { CookieTransportService } from '../cookies/cookie-transport.service.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { MeResponse, PublicUserResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { Public } from '../tokens/public.decorator.js';
import { type AccountView, AccountService, type PublicUser } from './account.service.js';
import { ChangePasswordDto } from './change-password.dto.js';
import { DeleteAccountDto } from './delete-account.dto.js';
import { RegisterDto } from './register.dto.js';

/** `/auth/register`, `/auth/me`, `/auth/password`, `DELETE /auth/account`: the account itself. */
@Controller()
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class AccountController {
  constructor(
    private readonly accounts: AccountService,
    private readonly transport: CookieTransportService,
  ) {}

  @Public()
  @Post('register')
  @ApiRoute({
    summary: 'Create an account',
    bearer: false,
    body: true,
    success: { status: 201, description: 'Registered (not signed in: log in next)', type: PublicUserResponse },
    errors: {
      409: 'Email is already registered (in any spelling: letter case, Unicode form, IDN domain)',
      429: 'Too many registrations from this client (`REGISTER_MAX_PER_IP` per `REGISTER_WINDOW`)',
    },
  })
  register(@Body() body: RegisterDto, @Req() request: ClientRequest): Promise<PublicUser> {
    return this.accounts.register(body.email, body.password, clientInfo(request));
  }

  @Post('password')
  @ApiRoute({
    csrf: true,
    summary: 'Change the password',
    description: 'Every other session of the user is signed out; this one stays.',
    body: true,
    success: { status: 204, description: 'Changed' },
    errors: {
      401: 'Current password is incorrect, or the access token is missing, invalid, expired or revoked',
      429: 'Too many wrong current passwords (counted as failed logins)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  changePassword(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ChangePasswordDto,
    @Req() request: ClientRequest,
  ): Promise<void> {
    return this.accounts.changePassword(user, body.currentPassword, body.newPassword, clientInfo(request));
  }

  /** Deletes the caller's account after checking the current password (throttled like a login). */
  @Delete('account')
  @ApiRoute({
    csrf: true,
    summary: 'Delete the account',
    description:
      'The user and every session go; every token is refused at once everywhere; the email can register again.',
    body: true,
    success: { status: 204, description: 'Deleted' },
    errors: {
      401: 'Current password is incorrect (nothing deleted), or the access token is missing, invalid, expired or revoked',
      429: 'Too many wrong passwords (counted as failed logins)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async deleteAccount(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: DeleteAccountDto,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<void> {
    await this.accounts.deleteAccount(user, body.password, clientInfo(request));
    this.transport.clearIfUsed(request, response);
  }

  @Get('me')
  @ApiRoute({
    summary: 'The signed-in user',
    success: { status: 200, description: 'The user', type: MeResponse },
    errors: { 404: 'User not found' },
  })
  me(@CurrentUser() user: AuthenticatedUser): Promise<AccountView> {
    return this.accounts.me(user);
  }
}
