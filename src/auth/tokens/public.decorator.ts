import { SetMetadata } from '@nestjs/common';
import { IS_PUBLIC_KEY } from '../auth.constants.js';

/** Lets a route through the JwtAuthGuard without a token (when the guard is global). */
export const Public = () => SetMetadata(IS_PUBLIC_KEY, true);
