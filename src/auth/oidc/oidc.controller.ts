import {
  Body,
  Controller,
  Delete,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Query,
  Req,
  Res,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  UsePipes,
} from '@nestjs/common';
import { CanonicalUuidPipe } from '../common/validators.js';
import { HttpAdapterHost } from '@nestjs/core';
import { AuthErrors } from '../auth.constants.js';
import { AuthExceptionsFilter } from '../common/auth-exceptions.filter.js';
import { BodyShapePipe } from '../common/body-shape.pipe.js';
import { authValidationPipe, clientInfo, type HttpRequest } from '../common/client-info.js';
import { type CookieSession, CookieTransportService } from '../cookies/cookie-transport.service.js';
import { readCookie } from '../cookies/cookies.js';
import { AuthService } from '../login/auth.service.js';
import type { TokenPair } from '../login/token-pair.interface.js';
import type { MfaChallengeAnswer } from '../mfa/mfa.service.js';
import { ApiRoute } from '../openapi/api-route.decorator.js';
import { MfaChallengeResponse, TokenPairResponse } from '../openapi/responses.js';
import { ApiArea } from '../openapi/swagger.js';
import { RECENT_AUTH_REFUSAL, RequireRecentAuth } from '../step-up/step-up.decorators.js';
import type { AuthenticatedUser } from '../tokens/authenticated-user.interface.js';
import { CurrentUser } from '../tokens/current-user.decorator.js';
import { JwtAuthGuard } from '../tokens/jwt-auth.guard.js';
import { Public } from '../tokens/public.decorator.js';
import { OidcExchangeDto } from './oidc.dto.js';
import { OIDC_BINDING_COOKIE, type OidcFailure, type OidcRedirect, OidcService } from './oidc.service.js';

const OFF = 'Sign-in with other providers is not configured on this server (no `oidc` option)';
const REDIRECT =
  'A redirect (302), on success as on failure; a failure lands on the sign-in page with `?oidc_error=<reason>`';

/** `/auth/oidc`: sign-in with OpenID Connect providers. */
@Controller('oidc')
@ApiArea('auth')
@UsePipes(new BodyShapePipe(), authValidationPipe)
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class OidcController {
  constructor(
    private readonly oidc: OidcService,
    private readonly auth: AuthService,
    private readonly transport: CookieTransportService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  @Public()
  @Get('providers')
  @ApiRoute({
    summary: 'The providers one can sign in with: `[{id, name}]`',
    description: 'Those discovered; one that cannot be reached is left out until it can.',
    bearer: false,
    success: { status: 200, description: 'In the order configured' },
    errors: { 404: OFF },
  })
  providers(): Array<{ id: string; name: string }> {
    return this.oidc.list();
  }

  @Public()
  @Get(':provider/start')
  @ApiRoute({
    summary: 'Sign in with a provider: a redirect to it (state, nonce, PKCE S256)',
    description:
      '`returnTo`: a path on this site to land on once signed in (default the account page; anything else is ignored). `transport=bearer`: the redirect after the provider carries a one-time `code` for `POST /auth/oidc/exchange` instead of setting the session cookies.',
    bearer: false,
    success: { status: 302, description: REDIRECT },
    errors: { 404: OFF },
  })
  async start(
    @Param('provider') providerId: string,
    @Query('returnTo') returnTo: unknown,
    @Query('transport') transport: unknown,
    @Req() request: HttpRequest,
    @Res() response: unknown,
  ): Promise<void> {
    const redirect = await this.oidc.start({
      providerId,
      returnTo,
      transport,
      bindingCookie: readCookie(request.headers.cookie, OIDC_BINDING_COOKIE),
      ip: clientInfo(request).ip,
    });
    this.redirect(response, redirect);
  }

  @Get(':provider/link')
  @RequireRecentAuth()
  @ApiRoute({
    summary: 'Connect a provider to the signed-in account: a redirect to it',
    description:
      'Back at `returnTo` (default the account page) once connected, or with `?oidc_error=identity_in_use` when that provider account is connected to another account here. With `Accept: application/json`: 200 `{location}` instead of the redirect (for scripts, which can re-authenticate on a 403 first).',
    success: { status: 302, description: 'A redirect (302)' },
    errors: {
      403: `${RECENT_AUTH_REFUSAL}; or \`CSRF check failed\`: asked from another site (\`Sec-Fetch-Site\`)`,
      404: OFF,
    },
  })
  async link(
    @Param('provider') providerId: string,
    @Query('returnTo') returnTo: unknown,
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: HttpRequest,
    @Res() response: unknown,
  ): Promise<void> {
    // Only this site's own pages start a link: a navigation from another site (which the access
    // cookie, SameSite=Lax, would follow) is refused.
    const site = request.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') throw new ForbiddenException('CSRF check failed');
    const redirect = await this.oidc.start({
      providerId,
      returnTo,
      transport: 'cookie',
      bindingCookie: readCookie(request.headers.cookie, OIDC_BINDING_COOKIE),
      ip: clientInfo(request).ip,
      link: { userId: user.userId, sessionId: user.sessionId },
    });
    // A script (the account page) asks for JSON: it gets the provider's URL to go to, and can
    // first answer a 403 (an old sign-in) with a re-authentication, which a navigation could not.
    const accept = request.headers.accept;
    if (typeof accept === 'string' && accept.includes('application/json')) {
      this.setHeaders(response, redirect);
      this.adapterHost.httpAdapter.reply(response, { location: redirect.location }, HttpStatus.OK);
      return;
    }
    this.redirect(response, redirect);
  }

  @Public()
  @Get(':provider/callback')
  @ApiRoute({
    summary: 'Where the provider sends the browser back (the redirect URI to register)',
    description:
      'Checks the state (single use, this browser’s), `iss`, the code exchange and the ID token (signature, `aud`, `nonce`, expiry), then signs in by the linking rules: cookie transport sets the session cookies and redirects to `returnTo`; a second factor sends the browser to the sign-in page to give it.',
    bearer: false,
    success: { status: 302, description: REDIRECT },
    errors: { 404: OFF },
  })
  async callback(
    @Param('provider') providerId: string,
    @Req() request: HttpRequest,
    @Res() response: unknown,
  ): Promise<void> {
    const info = clientInfo(request);
    const url = request.url ?? '';
    const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
    const outcome = await this.oidc.callback(providerId, query, request.headers.cookie, info);
    if (outcome.kind === 'redirect') return this.redirect(response, outcome.redirect);
    let answer: TokenPair | MfaChallengeAnswer;
    try {
      answer = await this.auth.loginFederated(outcome.userId, info);
    } catch (error) {
      return this.redirect(response, this.oidc.failure(refusalOf(error), providerId, outcome.userId, info.ip, null));
    }
    if ('mfaRequired' in answer) {
      return this.redirect(
        response,
        await this.oidc.secondStepRedirect(outcome.userId, outcome.provider, outcome.bindingHash, info.ip),
      );
    }
    this.transport.deliver(request, response, answer);
    this.redirect(response, { location: outcome.returnTo, cookies: [] });
  }

  @Public()
  @Post('exchange')
  @ApiRoute({
    csrf: true,
    summary: 'Turn the one-time code of a provider sign-in into what a login answers',
    description:
      'Tokens (or, with `X-Auth-Transport: cookie`, cookies), or `{mfaRequired, mfaToken, methods}` when a second factor is due. The code is single use and lives 60 seconds.',
    bearer: false,
    body: true,
    success: { status: 200, description: 'Signed in', type: TokenPairResponse, orType: MfaChallengeResponse },
    errors: {
      401: '`Invalid or expired code`',
      403: 'Account suspended until the given time; or `Email address not verified`',
      404: OFF,
    },
  })
  @HttpCode(HttpStatus.OK)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  async exchange(
    @Body() body: OidcExchangeDto,
    @Req() request: HttpRequest,
    @Res({ passthrough: true }) response: unknown,
  ): Promise<TokenPair | CookieSession | MfaChallengeAnswer> {
    const cookies = this.transport.requested(request);
    const { userId } = await this.oidc.redeem(body.code, request.headers.cookie);
    const answer = await this.auth.loginFederated(userId, clientInfo(request));
    if ('mfaRequired' in answer) return answer;
    return cookies ? this.transport.deliver(request, response, answer) : answer;
  }

  /** A 302 on Express and Fastify alike, never cached, its URL never sent on as a Referer. */
  private redirect(response: unknown, redirect: OidcRedirect): void {
    this.setHeaders(response, redirect);
    this.adapterHost.httpAdapter.setHeader(response, 'Referrer-Policy', 'no-referrer');
    this.adapterHost.httpAdapter.redirect(response, HttpStatus.FOUND, redirect.location);
  }

  /** The redirect's cookies (appended: the host's own stay), and never cached. */
  private setHeaders(response: unknown, redirect: OidcRedirect): void {
    const adapter = this.adapterHost.httpAdapter;
    for (const cookie of redirect.cookies) adapter.appendHeader(response, 'Set-Cookie', cookie);
    adapter.setHeader(response, 'Cache-Control', 'no-store');
  }
}

/** `/auth/identities`: the signed-in user's connected provider accounts. */
@Controller('identities')
@ApiArea('auth')
@UseGuards(JwtAuthGuard)
@UseFilters(AuthExceptionsFilter)
export class IdentitiesController {
  constructor(private readonly oidc: OidcService) {}

  @Get()
  @ApiRoute({
    summary: 'The caller’s connected provider accounts',
    success: {
      status: 200,
      description: '`[{id, provider, providerName, email, linkedAt, lastUsedAt}]`, oldest first',
    },
    errors: { 404: OFF },
  })
  list(@CurrentUser() user: AuthenticatedUser): ReturnType<OidcService['identities']> {
    return this.oidc.identities(user.userId);
  }

  @Delete(':id')
  @RequireRecentAuth()
  @ApiRoute({
    csrf: true,
    summary: 'Disconnect a provider account',
    success: { status: 204, description: 'Disconnected' },
    errors: {
      400: 'The id is not a UUID',
      404: `No such connected account; or ${OFF}`,
      403: RECENT_AUTH_REFUSAL,
      409: 'It is the last way to sign in to the account (no password, no passkey, no other connected account)',
    },
  })
  @HttpCode(HttpStatus.NO_CONTENT)
  async unlink(
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', new CanonicalUuidPipe()) id: string,
    @Req() request: HttpRequest,
  ): Promise<void> {
    await this.oidc.unlink(user, id, clientInfo(request).ip);
  }
}

/** Why a provider's sign-in that found its account still opened no session. */
function refusalOf(error: unknown): OidcFailure {
  if (error instanceof ForbiddenException) {
    return error.message === AuthErrors.emailNotVerified ? 'email_not_verified' : 'account_suspended';
  }
  if (error instanceof UnauthorizedException) return 'provider_error';
  throw error;
}
