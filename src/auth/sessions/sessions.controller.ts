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
import { AuthService, type DeviceSession } from '../auth.service.js';
import { CurrentUser } from '../decorators/current-user.decorator.js';
import { AuthExceptionsFilter } from '../filters/auth-exceptions.filter.js';
import { JwtAuthGuard } from '../guards/jwt-auth.guard.js';
import type { AuthenticatedUser } from '../interfaces/authenticated-user.interface.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { DeviceSessionResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';

/** The caller's devices: list them, sign one out. */
@Controller('sessions')
@ApiArea('sessions')
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class SessionsController {
  constructor(private readonly auth: AuthService) {}

  @Get()
  @ApiRoute({
    summary: "The caller's active sessions (devices), the current one marked",
    success: { status: 200, description: 'Active sessions', type: DeviceSessionResponse, isArray: true },
  })
  list(@CurrentUser() user: AuthenticatedUser): Promise<DeviceSession[]> {
    return this.auth.listSessions(user);
  }

  @Delete(':id')
  @ApiRoute({
    summary: 'Sign one device out',
    description: 'Its access tokens get 401 on their very next request, its refresh token too.',
    success: { status: 204, description: 'Signed out' },
    errors: {
      400: 'The id is not a UUID',
      404: 'Session not found (not the caller’s, unknown, or already ended)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  revoke(@CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    return this.auth.revokeDevice(user, id);
  }
}
