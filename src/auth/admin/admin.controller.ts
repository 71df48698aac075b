import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { CanonicalUuidPipe } from '../common/validators.js';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { authValidationPipe, Client, type ClientInfo } from '../common/client-info.js';
import { ApiRoute, type RouteDescription } from '../openapi/api-route.decorator.js';
import {
  AdminEventsPageResponse,
  AdminRolesResponse,
  AdminUserDetailResponse,
  AdminUsersPageResponse,
} from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import { ADMIN_ROLE } from '../roles/role-names.js';
import { Roles } from '../roles/roles.decorator.js';
import { RequireRecentAuth } from '../step-up/step-up.decorators.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { AdminSecondFactorGuard } from './admin-second-factor.guard.js';
import { BanDto, EventsQuery, RolesChangeDto, UserSearchQuery } from './admin.dto.js';
import { type AdminActor, AdminService } from './admin.service.js';

/** What every admin route may refuse with 403, and why. */
const ADMIN_REFUSAL =
  '`Insufficient role` (not an admin); `Recent authentication required` (sign in or re-authenticate within `recentAuthMaxAge`); `Second factor required` (an admin with an authenticator app or a passkey must have shown it in this session)';

const USER_NOT_FOUND = { 404: '`User not found`' };

function adminRoute(route: RouteDescription): MethodDecorator {
  return ApiRoute({ ...route, errors: { 403: ADMIN_REFUSAL, ...route.errors } });
}

/**
 * An RFC 3339 date-time (the DTO has checked its shape) as an instant; Invalid Date for one that
 * names no day or time that exists (`2030-02-30`, `T24:00:00`), which a Date would roll over.
 */
function dateTime(text: string): Date {
  const [year, month, day, hour, minute, second] = text.slice(0, 19).split(/[-T:]/).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return new Date(Number.NaN);
  }
  return new Date(text);
}

const actorOf = (user: AuthenticatedUser, client: ClientInfo): AdminActor => ({ userId: user.userId, ip: client.ip });

/**
 * `/auth/admin`: users and the event store, for admins (role `admin`) who signed in or
 * re-authenticated recently and, if they have a second factor, showed it. Every action is
 * recorded with the admin as its actor.
 */
@Controller('admin')
@ApiArea('admin')
@Roles(ADMIN_ROLE)
@RequireRecentAuth()
@UseGuards(JwtAuthGuard, AdminSecondFactorGuard)
@UseFilters(AuthExceptionsFilter)
@UsePipes(new BodyShapePipe(), authValidationPipe)
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  @Get('users')
  @adminRoute({
    summary: 'Users whose address starts with `query`, 50 a page, in address order',
    success: { status: 200, description: 'A page of users', type: AdminUsersPageResponse },
    errors: { 400: 'A query or cursor that is not one (`Invalid cursor`)' },
  })
  @Header('Cache-Control', 'no-store')
  users(@Query() query: UserSearchQuery) {
    return this.admin.searchUsers(query.query, query.cursor);
  }

  @Get('users/:id')
  @adminRoute({
    summary: 'A user: profile, roles, factors present, live sessions, last 20 events',
    success: { status: 200, description: 'The user', type: AdminUserDetailResponse },
    errors: { 400: 'The id is not a UUID', ...USER_NOT_FOUND },
  })
  @Header('Cache-Control', 'no-store')
  user(@Param('id', new CanonicalUuidPipe()) id: string) {
    return this.admin.user(id);
  }

  @Post('users/:id/ban')
  @adminRoute({
    csrf: true,
    body: true,
    summary: 'Suspend the account until `until`, ending every session on every instance',
    success: { status: 204, description: 'Banned' },
    errors: {
      400: '`until must be in the future`, or not a date-time',
      ...USER_NOT_FOUND,
      409: '`You cannot ban yourself`',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async ban(
    @CurrentUser() user: AuthenticatedUser,
    @Client() client: ClientInfo,
    @Param('id', new CanonicalUuidPipe()) id: string,
    @Body() body: BanDto,
  ): Promise<void> {
    await this.admin.ban(actorOf(user, client), id, dateTime(body.until));
  }

  @Delete('users/:id/ban')
  @adminRoute({
    csrf: true,
    summary: 'Lift a suspension',
    success: { status: 204, description: 'Not suspended (also when it was not)' },
    errors: { 400: 'The id is not a UUID', ...USER_NOT_FOUND },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async unban(
    @CurrentUser() user: AuthenticatedUser,
    @Client() client: ClientInfo,
    @Param('id', new CanonicalUuidPipe()) id: string,
  ): Promise<void> {
    await this.admin.unban(actorOf(user, client), id);
  }

  @Post('users/:id/sign-out')
  @adminRoute({
    csrf: true,
    summary: 'End every session of the user on every instance (logout-all)',
    success: { status: 204, description: 'Signed out everywhere' },
    errors: { 400: 'The id is not a UUID', ...USER_NOT_FOUND },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async signOut(
    @CurrentUser() user: AuthenticatedUser,
    @Client() client: ClientInfo,
    @Param('id', new CanonicalUuidPipe()) id: string,
  ): Promise<void> {
    await this.admin.signOut(actorOf(user, client), id);
  }

  @Delete('users/:id/mfa')
  @adminRoute({
    csrf: true,
    summary: 'Remove the user’s authenticator app and recovery codes, and end every session',
    description:
      'As the CLI’s `mfa reset`: for a user who lost the app, once their identity was checked another way. Passkeys stay.',
    success: { status: 204, description: 'Removed (also when there was none); every session ended' },
    errors: { 400: 'The id is not a UUID', ...USER_NOT_FOUND },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async removeSecondFactor(
    @CurrentUser() user: AuthenticatedUser,
    @Client() client: ClientInfo,
    @Param('id', new CanonicalUuidPipe()) id: string,
  ): Promise<void> {
    await this.admin.removeSecondFactor(actorOf(user, client), id);
  }

  @Post('users/:id/roles')
  @adminRoute({
    body: true,
    csrf: true,
    summary: 'Grant and take away roles; a change ends every session of the user',
    success: { status: 200, description: 'The roles now', type: AdminRolesResponse },
    errors: {
      400: 'A bad role name, none given, one both added and removed, more than 16',
      ...USER_NOT_FOUND,
      409: '`You cannot remove your own admin role`, or `The last admin cannot lose the admin role`',
    },
  })
  @HttpCode(HttpStatus.OK)
  changeRoles(
    @CurrentUser() user: AuthenticatedUser,
    @Client() client: ClientInfo,
    @Param('id', new CanonicalUuidPipe()) id: string,
    @Body() body: RolesChangeDto,
  ): Promise<{ roles: string[] }> {
    return this.admin.changeRoles(actorOf(user, client), id, { add: body.add, remove: body.remove });
  }

  @Delete('users/:id')
  @adminRoute({
    csrf: true,
    summary: 'Delete the account: every token refused at once everywhere',
    success: { status: 204, description: 'Deleted' },
    errors: {
      400: 'The id is not a UUID',
      ...USER_NOT_FOUND,
      409: '`You cannot delete your own account here` (use `DELETE /auth/account`), or `The last admin cannot lose the admin role`',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async deleteUser(
    @CurrentUser() user: AuthenticatedUser,
    @Client() client: ClientInfo,
    @Param('id', new CanonicalUuidPipe()) id: string,
  ): Promise<void> {
    await this.admin.deleteUser(actorOf(user, client), id);
  }

  @Get('events')
  @adminRoute({
    summary: 'The event store, newest first, 50 a page; by user and by type',
    success: { status: 200, description: 'A page of events', type: AdminEventsPageResponse },
    errors: { 400: '`Invalid cursor`, a userId that is not a UUID, a type that is not one' },
  })
  @Header('Cache-Control', 'no-store')
  events(@Query() query: EventsQuery) {
    return this.admin.eventsOf({ userId: query.userId, type: query.type }, query.cursor);
  }
}
