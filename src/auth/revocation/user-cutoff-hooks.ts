import type { EntityManager } from 'typeorm';

/**
 * Injection token of what other capabilities must undo when a user's other sessions end for a
 * security reason (logout-all, a ban, a password reset or change): called inside that transaction,
 * so that both commit or neither does. Recovery drops the reset links still out; a capability
 * added later (remembered devices, pending challenges) adds its own.
 */
export const USER_CUTOFF_HOOKS = Symbol('USER_CUTOFF_HOOKS');

export type UserCutoffHook = (manager: EntityManager, userId: string) => Promise<void>;
