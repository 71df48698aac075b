import { ArrayMaxSize, IsArray, IsOptional, IsString, IsUUID, Matches, MaxLength } from 'class-validator';
import { EMAIL_MAX_CHARS } from '../accounts/register.dto.js';
import { StorableString } from '../common/validators.js';
import { ApiField } from '../openapi/swagger.js';
import { MAX_ROLES_PER_USER } from '../roles/role-names.js';

/** `POST /auth/admin/users/:id/ban`. */
export class BanDto {
  @ApiField({ format: 'date-time', example: '2030-01-01T00:00:00Z', description: 'The ban’s end, in the future' })
  @IsString()
  @MaxLength(40)
  // RFC 3339 with a zone: the forms every client writes, and that Date reads the same everywhere.
  @Matches(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/, {
    message: 'until must be a date-time with a zone, such as 2030-01-01T00:00:00Z',
  })
  until!: string;
}

/** `POST /auth/admin/users/:id/roles`: roles to grant and to take away (at least one). */
export class RolesChangeDto {
  @ApiField({ required: false, type: [String], maxItems: MAX_ROLES_PER_USER, example: ['admin'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ROLES_PER_USER)
  @IsString({ each: true })
  @MaxLength(32, { each: true })
  add?: string[];

  @ApiField({ required: false, type: [String], maxItems: MAX_ROLES_PER_USER, example: ['support'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_ROLES_PER_USER)
  @IsString({ each: true })
  @MaxLength(32, { each: true })
  remove?: string[];
}

/** `GET /auth/admin/users?query=&cursor=`. */
export class UserSearchQuery {
  @ApiField({ required: false, maxLength: EMAIL_MAX_CHARS, description: 'The start of the address (any case)' })
  @IsOptional()
  @IsString()
  @StorableString(EMAIL_MAX_CHARS)
  query?: string;

  @ApiField({ required: false, maxLength: 700, description: 'The `nextCursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(700)
  cursor?: string;
}

/** `GET /auth/admin/events?userId=&type=&cursor=`. */
export class EventsQuery {
  @ApiField({ required: false, format: 'uuid', description: 'Only this user’s events' })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiField({ required: false, example: 'user_banned', description: 'Only events of this type' })
  @IsOptional()
  @IsString()
  @Matches(/^[a-z_]{1,64}$/, { message: 'type must be an event type such as login_failed' })
  type?: string;

  @ApiField({ required: false, maxLength: 64, description: 'The `nextCursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cursor?: string;
}
