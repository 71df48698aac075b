import type { ClientInfo } from '../common/client-info.js';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { AUTH_CLOCK } from '../auth.constants.js';
import type { Clock } from '../common/clock.interface.js';
import { REVOCATION_REASONS, RevocationService } from '../revocation/revocation.service.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { SessionRepository } from './session.repository.js';

/** One entry of GET /auth/sessions: nothing in it lets anyone authenticate. */
export interface DeviceSession {
  id: string;
  deviceName: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  /** True only for the session of the presenting token. */
  current: boolean;
}

/** The caller's devices (sessions): list them, sign one or all the others out. */
@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionRepository,
    private readonly revocation: RevocationService,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {}

  /** The caller's active sessions; `current` marks the one of the presenting token. */
  async listSessions(user: AuthenticatedUser): Promise<DeviceSession[]> {
    const sessions = await this.sessions.listActive(user.userId, this.clock.now());
    return sessions.map((session) => ({
      id: session.id,
      deviceName: session.deviceName,
      userAgent: session.userAgent,
      ip: session.ip,
      createdAt: session.createdAt.toISOString(),
      lastUsedAt: session.lastUsedAt.toISOString(),
      current: session.id === user.sessionId,
    }));
  }

  /** "Sign out all other devices": every session of the caller but the current one. */
  async revokeOtherSessions(user: AuthenticatedUser, client: Partial<ClientInfo> = {}): Promise<void> {
    await this.revocation.revokeOtherSessions(user.userId, user.sessionId, { ip: client.ip ?? null });
  }

  /** Signs one device out; 404 when it is not an active session of the caller (another user's included). */
  async revokeDevice(user: AuthenticatedUser, sessionId: string, client: Partial<ClientInfo> = {}): Promise<void> {
    const revoked = await this.revocation.revokeSession(user.userId, sessionId, REVOCATION_REASONS.deviceRevoked, {
      ip: client.ip ?? null,
    });
    if (!revoked) throw new NotFoundException('Session not found');
  }
}
