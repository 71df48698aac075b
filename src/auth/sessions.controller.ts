import {
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { AuthService, type DeviceSession } from './auth.service.js';
import { CurrentUser } from './decorators/current-user.decorator.js';
import { AuthExceptionsFilter } from './filters/auth-exceptions.filter.js';
import { JwtAuthGuard } from './guards/jwt-auth.guard.js';
import type { AuthenticatedUser } from './interfaces/authenticated-user.interface.js';

/** The caller's devices: list them, sign one out. */
@Controller('sessions')
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class SessionsController {
  constructor(private readonly auth: AuthService) {}

  @Get()
  list(@CurrentUser() user: AuthenticatedUser): Promise<DeviceSession[]> {
    return this.auth.listSessions(user);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  revoke(@CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    return this.auth.revokeDevice(user, id);
  }
}
