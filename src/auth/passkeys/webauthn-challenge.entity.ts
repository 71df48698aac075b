import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

export const WEBAUTHN_PURPOSES = ['register', 'login', 'second_factor', 'reauthenticate'] as const;
export type WebAuthnPurpose = (typeof WEBAUTHN_PURPOSES)[number];

/**
 * A WebAuthn challenge handed out with options: single use (deleted when a response names it),
 * for one purpose, bound to the user and session that asked (when there is one), or to the second
 * step of sign-in it was asked for (its mfaToken's hash), short-lived. An owner has one pending
 * challenge per purpose: asking again replaces it. Only its SHA-256 is kept.
 */
@Entity({ name: 'webauthn_challenges' })
@Index('webauthn_challenges_expires_at_idx', ['expiresAt'])
@Index('webauthn_challenges_user_id_idx', ['userId'], { where: '"user_id" IS NOT NULL' })
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

  /** For a second step of sign-in: the SHA-256 of its mfaToken (the challenge answers that step only). */
  @Column({ name: 'mfa_token_hash', type: 'char', length: 64, nullable: true })
  mfaTokenHash!: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
