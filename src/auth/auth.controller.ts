import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Post,
  Req,
  UseFilters,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { AuthService, type ClientInfo, type PublicUser } from './auth.service.js';
import { type ClientRequest, clientAddress, storableUserAgent } from './client-address.js';
import { CurrentUser } from './decorators/current-user.decorator.js';
import { Public } from './decorators/public.decorator.js';
import { ChangePasswordDto } from './dto/change-password.dto.js';
import { DeleteAccountDto } from './dto/delete-account.dto.js';
import { LoginDto } from './dto/login.dto.js';
import { RefreshDto } from './dto/refresh.dto.js';
import { RegisterDto } from './dto/register.dto.js';
import { AuthExceptionsFilter } from './filters/auth-exceptions.filter.js';
import { JwtAuthGuard } from './guards/jwt-auth.guard.js';
import type { AuthenticatedUser } from './interfaces/authenticated-user.interface.js';
import type { TokenPair } from './interfaces/token-pair.interface.js';
import { BodyShapePipe } from './pipes/body-shape.pipe.js';

/** Validation is the module's own, whatever pipes the host app configures. */
export const authValidationPipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  // Refuses bodies that are not a plain object of the DTO's shape (arrays, primitives).
  forbidUnknownValues: true,
  transform: true,
});

/** The client as the module records it: a valid IP address only, a user agent that fits its column. */
export function clientInfo(request: ClientRequest): ClientInfo {
  return { userAgent: storableUserAgent(request.headers['user-agent']), ip: clientAddress(request) };
}

@Controller()
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('register')
  register(@Body() body: RegisterDto, @Req() request: ClientRequest): Promise<PublicUser> {
    return this.auth.register(body.email, body.password, clientInfo(request));
  }

  // Token responses must never be stored by a browser or an intermediary (RFC 6749, section 5.1).
  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  login(@Body() body: LoginDto, @Req() request: ClientRequest): Promise<TokenPair> {
    return this.auth.login(body.email, body.password, body.deviceName ?? null, clientInfo(request));
  }

  @Public()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  refresh(@Body() body: RefreshDto): Promise<TokenPair> {
    return this.auth.refresh(body.refreshToken);
  }

  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  logout(@CurrentUser() user: AuthenticatedUser): Promise<void> {
    return this.auth.logout(user);
  }

  @Post('logout-all')
  @HttpCode(HttpStatus.NO_CONTENT)
  logoutAll(@CurrentUser() user: AuthenticatedUser): Promise<void> {
    return this.auth.logoutAll(user);
  }

  @Post('password')
  @HttpCode(HttpStatus.NO_CONTENT)
  changePassword(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ChangePasswordDto,
    @Req() request: ClientRequest,
  ): Promise<void> {
    return this.auth.changePassword(user, body.currentPassword, body.newPassword, clientInfo(request));
  }

  /** Deletes the caller's account after checking the current password (throttled like a login). */
  @Delete('account')
  @HttpCode(HttpStatus.NO_CONTENT)
  deleteAccount(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: DeleteAccountDto,
    @Req() request: ClientRequest,
  ): Promise<void> {
    return this.auth.deleteAccount(user, body.password, clientInfo(request));
  }

  @Get('me')
  me(@CurrentUser() user: AuthenticatedUser): Promise<PublicUser> {
    return this.auth.me(user);
  }
}
