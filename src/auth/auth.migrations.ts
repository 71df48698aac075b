import { CreateAuthTables1763870400000 } from '../../migrations/1763870400000-CreateAuthTables.js';
import { CreateLoginFailures1763956800000 } from '../../migrations/1763956800000-CreateLoginFailures.js';
import { AddRevocationLoadIndexes1764043200000 } from '../../migrations/1764043200000-AddRevocationLoadIndexes.js';
import { HardenAccounts1764200000000 } from '../../migrations/1764200000000-HardenAccounts.js';
import { AddPurgeIndexes1764300000000 } from '../../migrations/1764300000000-AddPurgeIndexes.js';
import { CreateSigningKeys1764500000000 } from '../../migrations/1764500000000-CreateSigningKeys.js';
import { AddAccountRecovery1764600000000 } from '../../migrations/1764600000000-AddAccountRecovery.js';
import { CanonicalEmails1765000000000 } from '../../migrations/1765000000000-CanonicalEmails.js';
import { PrioritiseMailOutbox1765200000000 } from '../../migrations/1765200000000-PrioritiseMailOutbox.js';
import { RevokeSigningKeys1765100000000 } from '../../migrations/1765100000000-RevokeSigningKeys.js';
import { AdmitPasswordChecks1765300000000 } from '../../migrations/1765300000000-AdmitPasswordChecks.js';
import { AddSecondFactor1765400000000 } from '../../migrations/1765400000000-AddSecondFactor.js';
import { AddPasskeys1765500000000 } from '../../migrations/1765500000000-AddPasskeys.js';
import { AddOidcSignIn1765600000000 } from '../../migrations/1765600000000-AddOidcSignIn.js';
import { AddActivityAndRoles1765700000000 } from '../../migrations/1765700000000-AddActivityAndRoles.js';

/** The module's migrations, in order, for a host's TypeORM `migrations` list. */
export const AUTH_MIGRATIONS = [
  CreateAuthTables1763870400000,
  CreateLoginFailures1763956800000,
  AddRevocationLoadIndexes1764043200000,
  HardenAccounts1764200000000,
  AddPurgeIndexes1764300000000,
  CreateSigningKeys1764500000000,
  AddAccountRecovery1764600000000,
  CanonicalEmails1765000000000,
  RevokeSigningKeys1765100000000,
  PrioritiseMailOutbox1765200000000,
  AdmitPasswordChecks1765300000000,
  AddSecondFactor1765400000000,
  AddPasskeys1765500000000,
  AddOidcSignIn1765600000000,
  AddActivityAndRoles1765700000000,
];
export { CreateAuthTables1763870400000, CreateLoginFailures1763956800000, AddRevocationLoadIndexes1764043200000 };
export { HardenAccounts1764200000000 };
export { AddPurgeIndexes1764300000000 };
export { CreateSigningKeys1764500000000 };
export { AddAccountRecovery1764600000000 };
export { CanonicalEmails1765000000000 };
export { RevokeSigningKeys1765100000000 };
export { PrioritiseMailOutbox1765200000000 };
export { AdmitPasswordChecks1765300000000 };
export { AddSecondFactor1765400000000 };
export { AddPasskeys1765500000000 };
export { AddOidcSignIn1765600000000 };
export { AddActivityAndRoles1765700000000 };
