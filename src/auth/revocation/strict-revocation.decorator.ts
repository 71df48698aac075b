import { SetMetadata } from '@nestjs/common';
import { STRICT_REVOCATION_KEY } from '../auth.constants.js';

/** Forces the database revocation check on a route, whatever caching the guard may do elsewhere. */
export const StrictRevocationCheck = () => SetMetadata(STRICT_REVOCATION_KEY, true);
