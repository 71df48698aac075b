import type { AuthModuleOptions } from '../auth-module-options.interface.js';

/**
 * Options of AuthVerifierModule: what another service needs to check the auth server's access
 * tokens. The values shared with the auth server (`issuer`, `audience`, `accessTokenTtl`,
 * `clockTolerance`) must be the same as there.
 */
export interface AuthVerifierOptions extends Pick<
  AuthModuleOptions,
  | 'issuer'
  | 'audience'
  | 'accessTokenTtl'
  | 'clockTolerance'
  | 'strictRevocation'
  | 'revocationListenerUrl'
  | 'revocationHeartbeatMs'
  | 'notificationSecret'
  | 'trustedOrigins'
  | 'securityEvents'
  | 'recentAuthMaxAge'
> {
  /**
   * Where the public keys come from: the auth server's JWKS URL
   * (`https://auth.example.com/.well-known/jwks.json`), or, when absent, the signing_keys table of
   * the shared database (public keys only; private keys and HMAC secrets are never read).
   */
  jwksUrl?: string;
}
