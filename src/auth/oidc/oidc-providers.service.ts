import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import * as client from 'openid-client';
import { AUTH_CLOCK } from '../auth.constants.js';
import { AUTH_RESOLVED_OPTIONS } from '../auth-options.js';
import type { ResolvedAuthOptions, ResolvedOidcProvider } from '../auth-module-options.interface.js';
import type { Clock } from '../common/clock.interface.js';

/** Seconds a provider's requests (discovery, the code exchange, its keys) may take. */
export const OIDC_REQUEST_TIMEOUT_SECONDS = 5;
/** After a failed discovery, the next attempt waits this long (a start route asks again then). */
export const OIDC_DISCOVERY_RETRY_MS = 30_000;

interface ProviderState {
  provider: ResolvedOidcProvider;
  config: client.Configuration | null;
  /** When discovery may be tried again (ms); 0: now. */
  retryAt: number;
  discovering: Promise<client.Configuration | null> | null;
}

/**
 * The configured OpenID Connect providers and their discovery documents. Discovery runs at start,
 * in the background: a provider that cannot be discovered is logged and left out (of the
 * providers list, and its start route sends people back to the sign-in page), never a crash, and
 * is tried again on demand, at most every 30 seconds.
 */
@Injectable()
export class OidcProvidersService implements OnApplicationBootstrap {
  private readonly logger = new Logger('OidcProviders');
  private readonly states = new Map<string, ProviderState>();

  constructor(
    @Inject(AUTH_RESOLVED_OPTIONS) private readonly options: ResolvedAuthOptions,
    @Inject(AUTH_CLOCK) private readonly clock: Clock,
  ) {
    for (const provider of options.oidc?.providers ?? []) {
      this.states.set(provider.id, { provider, config: null, retryAt: 0, discovering: null });
    }
  }

  onApplicationBootstrap(): void {
    for (const id of this.states.keys()) void this.configuration(id);
  }

  /**
   * The providers whose discovery succeeded, in the order configured. Those not discovered yet
   * are tried again in the background when their retry is due, for the next call.
   */
  available(): ResolvedOidcProvider[] {
    const states = [...this.states.values()];
    for (const state of states) if (state.config === null) void this.configuration(state.provider.id);
    return states.filter((state) => state.config !== null).map((state) => state.provider);
  }

  /** The provider of this id, discovered or not; null when none is configured. */
  provider(id: string): ResolvedOidcProvider | null {
    return this.states.get(id)?.provider ?? null;
  }

  /** The provider's client configuration; null while it cannot be discovered. */
  async configuration(id: string): Promise<client.Configuration | null> {
    const state = this.states.get(id);
    if (!state) return null;
    if (state.config) return state.config;
    if (state.discovering) return state.discovering;
    if (this.clock.now().getTime() < state.retryAt) return null;
    state.discovering = this.discover(state.provider).then(
      (config) => {
        state.config = config;
        state.discovering = null;
        this.logger.log(`Provider ${state.provider.id} discovered at ${state.provider.issuer}`);
        return config;
      },
      (error: unknown) => {
        state.retryAt = this.clock.now().getTime() + OIDC_DISCOVERY_RETRY_MS;
        state.discovering = null;
        // The issuer and the failure only: no secret is in either.
        this.logger.warn(
          `Provider ${state.provider.id} could not be discovered at ${state.provider.issuer} (${describe(error)}); left out, tried again on demand`,
        );
        return null;
      },
    );
    return state.discovering;
  }

  private async discover(provider: ResolvedOidcProvider): Promise<client.Configuration> {
    const issuer = new URL(provider.issuer);
    return client.discovery(
      issuer,
      provider.clientId,
      provider.clientSecret,
      client.ClientSecretBasic(provider.clientSecret),
      {
        timeout: OIDC_REQUEST_TIMEOUT_SECONDS,
        execute: [
          // The ID token's signature checked with the provider's keys (its jwks_uri), not only its
          // claims: openid-client leaves that to the TLS of the token endpoint unless asked.
          client.enableNonRepudiationChecks,
          // http only for localhost outside production (the options refuse any other): tests, local providers.
          ...(issuer.protocol === 'http:' ? [client.allowInsecureRequests] : []),
        ],
      },
    );
  }
}

/** A short description of a failure: its code and message, and its cause's. */
export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${typeof code === 'string' ? `${code} ` : ''}${error.message}${cause}`.slice(0, 300);
}
