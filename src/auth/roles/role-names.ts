/** The role that may use the admin API (`/auth/admin`). */
export const ADMIN_ROLE = 'admin';

/** Most roles one user holds (a token carries them all). */
export const MAX_ROLES_PER_USER = 16;

/** A role's name: lower-case letters, digits, `_` and `-`, starting with a letter, at most 32 characters. */
const ROLE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export function isRoleName(value: unknown): value is string {
  return typeof value === 'string' && ROLE_NAME.test(value);
}

/**
 * The `roles` claim: absent (no role), or a sorted list of distinct role names. A token with
 * anything else is not one of ours.
 */
export function isRolesClaim(value: unknown): value is string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ROLES_PER_USER) return false;
  return value.every((role, index) => isRoleName(role) && (index === 0 || (value[index - 1] as string) < role));
}

/** Distinct, sorted: how roles are stored and signed (two lists of the same roles compare equal). */
export function normalisedRoles(roles: Iterable<string>): string[] {
  return [...new Set(roles)].sort();
}
