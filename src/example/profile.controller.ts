import { Controller, Get } from '@nestjs/common';
import { type AuthenticatedUser, CurrentUser, StrictRevocationCheck } from '../auth/index.js';

interface ProfileView {
  userId: string;
  sessionId: string;
}

/** Guarded by the global JwtAuthGuard. */
@Controller('profile')
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
}
