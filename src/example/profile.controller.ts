import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import {
  type AuthenticatedUser,
  CurrentUser,
  RequireSecondFactor,
  RequireVerifiedEmail,
  StrictRevocationCheck,
} from '../auth/index.js';

class ProfileView {
  @ApiProperty({ format: 'uuid' })
  userId!: string;

  @ApiProperty({ format: 'uuid' })
  sessionId!: string;
}

/** Guarded by the global JwtAuthGuard. */
@Controller('profile')
@ApiTags('example')
@ApiBearerAuth()
@ApiOkResponse({ type: ProfileView })
@ApiUnauthorizedResponse({ description: 'Missing, invalid, expired or revoked access token' })
export class ProfileController {
  @Get()
  profile(@CurrentUser() user: AuthenticatedUser): ProfileView {
    return { userId: user.userId, sessionId: user.sessionId };
  }

  /** Always checked against the database, even where the guard could answer from memory. */
  @StrictRevocationCheck()
  @Get('strict')
  strict(@CurrentUser() user: AuthenticatedUser): ProfileView {
    return { userId: user.userId, sessionId: user.sessionId };
  }

  /** Only for a user whose email address is verified (403 otherwise). */
  @RequireVerifiedEmail()
  @Get('verified')
  verified(@CurrentUser() user: AuthenticatedUser): ProfileView {
    return { userId: user.userId, sessionId: user.sessionId };
  }

  /** Only for a session that showed two factors (a password and a code): 403 `Second factor required` otherwise. */
  @RequireSecondFactor()
  @Get('secure')
  secure(@CurrentUser() user: AuthenticatedUser): ProfileView {
    return { userId: user.userId, sessionId: user.sessionId };
  }
}
