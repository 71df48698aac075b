import { Controller, Delete, Get, HttpCode, HttpStatus, Param, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { CanonicalUuidPipe } from '../common/validators.js';
import { type DeviceSession, SessionsService } from './sessions.service.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { CookieTransportService, type TransportRequest } from '../cookies/cookie-transport.service.js';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { Client, type ClientInfo, clientInfo } from '../common/client-info.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { DeviceSessionResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';

/** The caller's devices: list them, sign one out. */
@Controller('sessions')
@ApiArea('sessions')
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class SessionsController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly transport: CookieTransportService,
  ) {}

  @Get()
  @ApiRoute({
    summary: "The caller's active sessions (devices), the current one marked",
    success: { status: 200, description: 'Active sessions', type: DeviceSessionResponse, isArray: true },
  })
  list(@CurrentUser() user: AuthenticatedUser): Promise<DeviceSession[]> {
    return this.sessions.listSessions(user);
  }

  @Delete()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiRoute({
    csrf: true,
    summary: 'Sign out every other device',
    description: 'Every session of the caller but the current one ends; their tokens are refused at once everywhere.',
    success: { status: 204, description: 'Signed out (also when there was no other session)' },
  })
  revokeOthers(@CurrentUser() user: AuthenticatedUser, @Client() client: ClientInfo): Promise<void> {
    return this.sessions.revokeOtherSessions(user, client);
  }

  @Delete(':id')
  @ApiRoute({
    csrf: true,
    summary: 'Sign one device out',
    description: 'Its access tokens get 401 on their very next request, its refresh token too.',
    success: { status: 204, description: 'Signed out' },
    errors: {
      400: 'The id is not a UUID',
      404: 'Session not found (not the caller’s, unknown, or already ended)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async revoke(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', new CanonicalUuidPipe()) id: string,
    @Req() request: TransportRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<void> {
    await this.sessions.revokeDevice(user, id, clientInfo(request));
    // Signing out this very device is a logout: its cookies go too.
    if (id === user.sessionId) this.transport.clearIfUsed(request, response);
  }
}
