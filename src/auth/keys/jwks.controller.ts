import { Controller, Get, Header } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { JWKS_MAX_AGE_SECONDS } from '../auth.constants.js';
import { Public } from '../tokens/public.decorator.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { JsonWebKeySetResponse } from '../openapi/responses.js';
import { SigningKeys } from './signing-keys.service.js';

/**
 * `GET /.well-known/jwks.json`: the public keys that may verify a live token (RFC 7517), for
 * other services. Outside the module's route prefix, as the well-known path wants. Secrets and
 * private keys never appear here.
 */
@Controller('.well-known')
export class JwksController {
  private keys: SigningKeys | undefined;

  constructor(private readonly moduleRef: ModuleRef) {}

  @Public()
  @ApiRoute({
    summary: 'Public keys of the tokens (JWKS), for other services',
    description: 'Answered from memory (`Cache-Control: public, max-age=300`). HMAC secrets are never listed.',
    bearer: false,
    database: false,
    success: { status: 200, description: 'The JSON Web Key Set', type: JsonWebKeySetResponse },
  })
  @Get('jwks.json')
  @Header('Cache-Control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`)
  @Header('Content-Type', 'application/jwk-set+json')
  jwks(): { keys: object[] } {
    // AuthModule's instance (this controller's module is imported by it, so cannot inject from it).
    this.keys ??= this.moduleRef.get(SigningKeys, { strict: false });
    if (!this.keys) throw new Error('The JWKS route needs AuthModule');
    return this.keys.jwks();
  }
}
