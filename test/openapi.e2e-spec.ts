import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MODULE_METADATA, PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants.js';
import { RequestMethod } from '@nestjs/common';
import { Validator } from '@seriousme/openapi-schema-validator';
import { AuthModule } from '../src/auth/auth.module.js';
import { JwksController } from '../src/auth/keys/jwks.controller.js';
import { IS_PUBLIC_KEY } from '../src/auth/auth.constants.js';
import { createTestApp, type TestAppWithDatabase } from './support/test-app.js';

interface Operation {
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }>;
  security?: Array<Record<string, string[]>>;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, Record<string, string>> };
}

/** Every route the module's controllers declare, read from Nest's own route metadata. */
function moduleRoutes(prefix: string): Array<{ method: string; path: string; isPublic: boolean }> {
  // The JWKS route is mounted outside the module's prefix.
  // Every controller AuthModule declares, so that a capability added later is covered too.
  type ControllerClass = abstract new (...args: never[]) => unknown;
  const declared = Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, AuthModule) as ControllerClass[];
  expect(declared.length).toBeGreaterThanOrEqual(4);
  const controllers: Array<[ControllerClass, string]> = [
    ...declared.map((controller): [ControllerClass, string] => [controller, prefix]),
    [JwksController, ''],
  ];
  return controllers.flatMap(([controller, routePrefix]) => {
    const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '').replace(/^\/|\/$/g, '');
    return Object.getOwnPropertyNames(controller.prototype)
      .map((name) => (controller.prototype as unknown as Record<string, unknown>)[name])
      .filter((handler): handler is object => Reflect.hasMetadata(METHOD_METADATA, handler as object))
      .map((handler) => {
        const path = String(Reflect.getMetadata(PATH_METADATA, handler)).replace(/^\//, '');
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number].toLowerCase();
        const full = ['', routePrefix, base, path].filter((part, index) => index === 0 || part !== '').join('/');
        return {
          method,
          path: full.replace(/:(\w+)/g, '{$1}'),
          isPublic: Reflect.getMetadata(IS_PUBLIC_KEY, handler) === true,
        };
      });
  });
}

/** What each route can answer, as the module's behaviour specs show it. */
const EXPECTED_STATUSES: Record<string, number[]> = {
  'post /auth/register': [201, 400, 409, 413, 429, 503],
  'post /auth/login': [200, 400, 401, 403, 413, 429, 503],
  'post /auth/refresh': [200, 400, 401, 403, 413, 503],
  'post /auth/logout': [204, 401, 403, 503],
  'post /auth/logout-all': [204, 401, 403, 503],
  'post /auth/password': [204, 400, 401, 403, 413, 429, 503],
  'delete /auth/account': [204, 400, 401, 403, 413, 429, 503],
  'get /auth/me': [200, 401, 404, 503],
  'get /auth/sessions': [200, 401, 503],
  'delete /auth/sessions': [204, 401, 403, 503],
  'delete /auth/sessions/{id}': [204, 400, 401, 403, 404, 503],
  'get /.well-known/jwks.json': [200],
  'post /auth/password/forgot': [202, 400, 404, 413, 429, 503],
  'post /auth/password/reset': [204, 400, 404, 413, 429, 503],
  'post /auth/email/verify': [204, 400, 404, 413, 503],
  'post /auth/email/verify/resend': [202, 400, 404, 413, 429, 503],
  'post /auth/login/mfa': [200, 400, 401, 403, 413, 429, 503],
  'post /auth/reauthenticate': [200, 400, 401, 403, 413, 429, 503],
  'get /auth/mfa': [200, 401, 503],
  'post /auth/mfa/totp/setup': [200, 401, 403, 409, 503],
  'post /auth/mfa/totp/qr': [200, 400, 401, 403, 413, 503],
  'post /auth/mfa/totp/enable': [200, 400, 401, 403, 409, 413, 503],
  'delete /auth/mfa/totp': [204, 401, 403, 503],
  'post /auth/mfa/recovery-codes': [200, 401, 403, 409, 503],
  'post /auth/passkeys/register/options': [200, 401, 403, 404, 503],
  'post /auth/passkeys/login/options': [200, 400, 403, 404, 413, 429, 503],
  'post /auth/passkeys/login': [200, 400, 401, 403, 404, 413, 503],
  'post /auth/login/mfa/passkey-options': [200, 400, 401, 403, 404, 413, 503],
  'post /auth/reauthenticate/passkey-options': [200, 401, 403, 404, 503],
  'post /auth/passkeys/register': [201, 400, 401, 403, 404, 409, 413, 503],
  'get /auth/passkeys': [200, 401, 404, 503],
  'patch /auth/passkeys/{id}': [200, 400, 401, 403, 404, 413, 503],
  'delete /auth/passkeys/{id}': [204, 400, 401, 403, 404, 409, 503],
  'get /auth/oidc/providers': [200, 404, 503],
  'get /auth/oidc/{provider}/start': [302, 404, 503],
  'get /auth/oidc/{provider}/link': [302, 401, 403, 404, 503],
  'get /auth/oidc/{provider}/callback': [302, 404, 503],
  'post /auth/oidc/exchange': [200, 400, 401, 403, 404, 413, 503],
  'get /auth/identities': [200, 401, 404, 503],
  'delete /auth/identities/{id}': [204, 400, 401, 403, 404, 409, 503],
  'get /auth/activity': [200, 400, 401, 503],
  'post /auth/account/secure': [204, 400, 404, 413, 429, 503],
  'get /auth/admin/users': [200, 400, 401, 403, 503],
  'get /auth/admin/users/{id}': [200, 400, 401, 403, 404, 503],
  'post /auth/admin/users/{id}/ban': [204, 400, 401, 403, 404, 409, 413, 503],
  'delete /auth/admin/users/{id}/ban': [204, 400, 401, 403, 404, 503],
  'post /auth/admin/users/{id}/sign-out': [204, 400, 401, 403, 404, 503],
  'delete /auth/admin/users/{id}/mfa': [204, 400, 401, 403, 404, 503],
  'post /auth/admin/users/{id}/roles': [200, 400, 401, 403, 404, 409, 413, 503],
  'delete /auth/admin/users/{id}': [204, 400, 401, 403, 404, 409, 503],
  'get /auth/admin/events': [200, 400, 401, 403, 503],
};

describe('the OpenAPI document (/docs-json) and Swagger UI (/docs)', () => {
  let testApp: TestAppWithDatabase;
  let document: OpenApiDocument;

  beforeAll(async () => {
    testApp = await createTestApp();
    const response = await testApp.http.get('/docs-json').expect(200);
    document = response.body as OpenApiDocument;
  });

  afterAll(async () => {
    await testApp?.close();
  });

  it('is a valid OpenAPI document', async () => {
    const result = await new Validator().validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.openapi).toMatch(/^3\./);
  });

  it('describes every route of the module, with the answers each can give', () => {
    const routes = moduleRoutes('auth');
    expect(routes.map((route) => `${route.method} ${route.path}`).sort()).toEqual(
      Object.keys(EXPECTED_STATUSES).sort(),
    );
    for (const route of routes) {
      const operation = document.paths[route.path]?.[route.method];
      expect({ route, described: operation !== undefined }).toEqual({ route, described: true });
      const statuses = Object.keys(operation.responses)
        .map(Number)
        .sort((a, b) => a - b);
      expect({ route: route.path, statuses }).toEqual({
        route: route.path,
        statuses: EXPECTED_STATUSES[`${route.method} ${route.path}`],
      });
      // Errors in Nest's shape; 429 and 503 say when to retry.
      for (const [status, answer] of Object.entries(operation.responses)) {
        if (Number(status) < 400) continue;
        expect(answer.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/ErrorResponse' });
        if (status === '429' || status === '503') expect(Object.keys(answer.headers ?? {})).toEqual(['Retry-After']);
      }
      // Routes that take cookie transport (those that can answer 403 CSRF) name its header.
      const parameters = (operation as { parameters?: Array<{ in: string; name: string }> }).parameters ?? [];
      const headers = parameters.filter((parameter) => parameter.in === 'header').map((parameter) => parameter.name);
      expect({ route: route.path, headers }).toEqual({
        route: route.path,
        // Every change a cookie may authenticate can be refused as a forgery (403); a read cannot.
        headers:
          route.method !== 'get' && EXPECTED_STATUSES[`${route.method} ${route.path}`].includes(403)
            ? ['X-Auth-Transport']
            : [],
      });
      // Guarded routes take either scheme (bearer header or access cookie); public ones neither.
      const schemes = (operation.security ?? []).map((entry) => Object.keys(entry).join()).sort();
      expect({ route: route.path, schemes }).toEqual({
        route: route.path,
        schemes: route.isPublic ? [] : ['bearer', 'cookie'],
      });
    }
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.components.securitySchemes.cookie).toMatchObject({
      type: 'apiKey',
      in: 'cookie',
      name: '__Host-auth_access',
    });
  });

  it('gives the shapes of request bodies and answers', () => {
    const schemas = document.components.schemas as Record<
      string,
      { properties: Record<string, unknown>; required?: string[] }
    >;
    expect(document.paths['/auth/login'].post.requestBody?.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/LoginDto',
    });
    expect(schemas.LoginDto.required?.sort()).toEqual(['email', 'password']);
    expect(Object.keys(schemas.LoginDto.properties).sort()).toEqual(['deviceName', 'email', 'password']);
    expect(schemas.RegisterDto.properties.password).toMatchObject({ minLength: 8, maxLength: 256 });
    expect(Object.keys(schemas.TokenPairResponse.properties).sort()).toEqual(
      ['accessToken', 'emailVerified', 'expiresIn', 'refreshToken', 'sessionId', 'tokenType'].sort(),
    );
    expect(Object.keys(schemas.ErrorResponse.properties).sort()).toEqual(['error', 'message', 'statusCode']);
    expect(document.paths['/auth/sessions'].get.responses['200'].content?.['application/json'].schema).toEqual({
      type: 'array',
      items: { $ref: '#/components/schemas/DeviceSessionResponse' },
    });
    for (const route of ['/auth/register', '/auth/refresh', '/auth/password']) {
      const method = document.paths[route].post;
      expect(method.requestBody?.content['application/json'].schema.$ref).toMatch(/^#\/components\/schemas\/\w+Dto$/);
    }
    expect(document.paths['/auth/account'].delete.requestBody?.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/DeleteAccountDto',
    });
  });

  it('serves Swagger UI from local files at /docs', async () => {
    const page = await testApp.http.get('/docs').redirects(1).expect(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('swagger-ui');
    expect(page.text).not.toMatch(/https?:\/\/(?!localhost|127\.0\.0\.1)[^"']*\.(js|css)/);
  });
});
