import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const WEBAUTHN_PURPOSES = ['register', 'login', 'second_factor', 'reauthenticate'] as const;
export type WebAuthnPurpose = (typeof WEBAUTHN_PURPOSES)[number];

/**
 * A WebAuthn challenge handed out with options: single use (deleted when a response names it),
 * for one purpose, bound to the user and session that asked (when there is one), short-lived.
 * Only its SHA-256 is kept.
 */
@Entity({ name: 'webauthn_challenges' })
@Index('webauthn_challenges_expires_at_idx', ['expiresAt'])
export class WebAuthnChallengeEntity {
  @PrimaryColumn({
    name: 'challenge_hash',
    type: 'char',
    length: 64,
    primaryKeyConstraintName: 'webauthn_challenges_pkey',
  })
  challengeHash!: string;

  @Column({ name: 'purpose', type: 'varchar', length: 20 })
  purpose!: WebAuthnPurpose;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  @Column({ name: 'session_id', type: 'uuid', nullable: true })
  sessionId!: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
