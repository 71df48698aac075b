import { CreateAuthTables1763870400000 } from '../../migrations/1763870400000-CreateAuthTables.js';

/** The module's migrations, in order, for a host's TypeORM `migrations` list. */
export const AUTH_MIGRATIONS = [CreateAuthTables1763870400000];
export { CreateAuthTables1763870400000 };
