/**
 * SQL call that takes a user's turn (transaction-scoped advisory lock) for statements that end
 * several of their sessions (the session cap, signing out every other device) or count them to
 * decide (a login under the cap): one at a time, they never lock the same rows in two orders nor
 * count past each other. `userIdParameter`: the placeholder of the user's id, e.g. `$1`.
 */
export function userSessionsLock(userIdParameter: string): string {
  return `pg_advisory_xact_lock(hashtextextended('session-cap:' || ${userIdParameter}, 0))`;
}
