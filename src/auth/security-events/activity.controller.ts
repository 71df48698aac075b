import { Controller, Get, Header, Query, UseFilters, UseGuards } from '@nestjs/common';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { ActivityPageResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { type ActivityPage, ActivityService } from './activity.service.js';

/** `GET /auth/activity`: the caller's own security events, newest first. */
@Controller('activity')
@ApiArea('auth')
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class ActivityController {
  constructor(private readonly activity: ActivityService) {}

  @Get()
  @ApiRoute({
    summary: "The caller's recent security events (sign-ins, failed ones, changes, sessions ended), 20 a page",
    description: '`cursor`: the `nextCursor` of the previous page (none: the newest events).',
    success: { status: 200, description: 'A page of events, newest first', type: ActivityPageResponse },
    errors: { 400: '`Invalid cursor`' },
  })
  @Header('Cache-Control', 'no-store')
  list(@CurrentUser() user: AuthenticatedUser, @Query('cursor') cursor: unknown): Promise<ActivityPage> {
    return this.activity.activity(user, cursor);
  }
}
