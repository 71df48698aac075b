import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * A sign-in (or a link) sent to a provider and not yet back: what the callback must find again.
 * Keyed by the SHA-256 of its `state`, bound to the browser that started it by the SHA-256 of the
 * random value in that browser's transaction cookie; single use, 10 minutes. The PKCE verifier
 * and the nonce are the provider round trip's own secrets: kept here, never in the browser.
 */
@Entity({ name: 'oidc_transactions' })
@Index('oidc_transactions_expires_at_idx', ['expiresAt'])
export class OidcTransactionEntity {
  @PrimaryColumn({ name: 'state_hash', type: 'char', length: 64, primaryKeyConstraintName: 'oidc_transactions_pkey' })
  stateHash!: string;

  @Column({ name: 'binding_hash', type: 'char', length: 64 })
  bindingHash!: string;

  @Column({ name: 'provider', type: 'varchar', length: 32 })
  provider!: string;

  @Column({ name: 'nonce', type: 'varchar', length: 128 })
  nonce!: string;

  @Column({ name: 'code_verifier', type: 'varchar', length: 128 })
  codeVerifier!: string;

  /** A same-origin path, checked when the sign-in started. */
  @Column({ name: 'return_to', type: 'text' })
  returnTo!: string;

  /** `cookie` (the session in cookies) or `code` (a one-time code in the redirect, for bearer clients). */
  @Column({ name: 'transport', type: 'varchar', length: 8 })
  transport!: 'cookie' | 'code';

  /** For a link from the account page: the user and session that asked. */
  @Column({ name: 'link_user_id', type: 'uuid', nullable: true })
  linkUserId!: string | null;

  @Column({ name: 'link_session_id', type: 'uuid', nullable: true })
  linkSessionId!: string | null;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;
}
