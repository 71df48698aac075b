import { BadRequestException, ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type { TransactionStatements } from '../common/driver-pool.js';
import { type EventContext, RevocationService } from '../revocation/revocation.service.js';
import type { EventsOfChange } from '../security-events/security-events.service.js';
import { ADMIN_ROLE, isRoleName, MAX_ROLES_PER_USER, normalisedRoles } from './role-names.js';
import { RolesRepository } from './roles.repository.js';

/** Roles to grant and to take away; a role in both is refused. */
export interface RoleChange {
  add?: readonly string[];
  remove?: readonly string[];
}

/** Why a role change was refused: the admin API's self-lockout rules. */
export const LAST_ADMIN_REFUSAL = 'The last admin cannot lose the admin role';

/**
 * Users' roles. A change ends every session of the user on every instance (as logout-all), in the
 * transaction that writes it, so that no token keeps a role taken away (nor lacks one given), and
 * records `roles_changed` with what was added and removed, by whom.
 */
@Injectable()
export class RolesService {
  constructor(
    private readonly roles: RolesRepository,
    private readonly revocation: RevocationService,
  ) {}

  /** The user's roles; 404 when there is no such user. */
  async rolesOf(userId: string): Promise<string[]> {
    const roles = await this.roles.rolesOf(userId);
    if (roles === null) throw new NotFoundException('User not found');
    return roles;
  }

  /**
   * Grants and takes away roles: the roles after it. Nothing happens (no event, no session ended)
   * when the user already has exactly those. 400 for a bad role name, a role both added and
   * removed, or more than 16 roles; 404 for no such user; 409 when the `admin` role would leave
   * its last holder.
   */
  async change(userId: string, change: RoleChange, by: EventContext): Promise<string[]> {
    const add = normalisedRoles(change.add ?? []);
    const remove = normalisedRoles(change.remove ?? []);
    const bad = [...add, ...remove].filter((role) => !isRoleName(role));
    if (bad.length > 0) {
      throw new BadRequestException(
        'A role name is lower-case letters, digits, _ and -, starting with a letter, at most 32 characters',
      );
    }
    if (add.some((role) => remove.includes(role)))
      throw new BadRequestException('A role cannot be both added and removed');
    const before = await this.rolesOf(userId);
    if (sameRoles(before, apply(before, add, remove))) return before;
    let after = before;
    const applied = await this.revocation.revokeAllForUser(
      userId,
      { reason: 'roles_changed' },
      by,
      async (events: EventsOfChange, transaction: TransactionStatements) => {
        // The row is locked (the cut-off's first statement): read again, as it is now.
        const current = (await this.roles.rolesIn(transaction, userId)) ?? [];
        after = apply(current, add, remove);
        if (after.length > MAX_ROLES_PER_USER) throw new BadRequestException(`At most ${MAX_ROLES_PER_USER} roles`);
        if (current.includes(ADMIN_ROLE) && !after.includes(ADMIN_ROLE)) {
          if ((await this.roles.otherAdminsIn(transaction, userId)) === 0)
            throw new ConflictException(LAST_ADMIN_REFUSAL);
        }
        await this.roles.setIn(transaction, userId, after);
        await events.write(transaction, 'roles_changed', {
          userId,
          ...by,
          details: {
            added: after.filter((role) => !current.includes(role)),
            removed: current.filter((role) => !after.includes(role)),
          },
        });
      },
    );
    if (!applied) throw new NotFoundException('User not found');
    return after;
  }
}

function apply(roles: readonly string[], add: readonly string[], remove: readonly string[]): string[] {
  return normalisedRoles([...roles.filter((role) => !remove.includes(role)), ...add]);
}

function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((role, index) => role === b[index]);
}
