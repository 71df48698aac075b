import { applyDecorators } from '@nestjs/common';
import { ErrorResponse } from './responses.js';
import { nothing, swagger } from './swagger.js';

/** The error answers a route of the module can give. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503;

export interface RouteDescription {
  summary: string;
  description?: string;
  /** The success answer: its status, what it means, and the shape of its body (none for 204). */
  success: {
    status: 200 | 201 | 202 | 204 | 302;
    description: string;
    type?: abstract new () => unknown;
    isArray?: boolean;
    /** Another shape the same status may have (`oneOf` with `type`): a login's second step. */
    orType?: abstract new () => unknown;
  };
  /** Requires an access token (the `bearer` or `cookie` security scheme). Default true. */
  bearer?: boolean;
  /** A JSON body (of the parameter's DTO type): adds the 400 and 413 answers. */
  body?: boolean;
  /** Takes cookie transport and changes state: a request failing the CSRF check gets 403. */
  csrf?: boolean;
  /** Needs the database (so may answer 503). Default true. */
  database?: boolean;
  /** Route-specific errors; 401 (bearer), 400 and 413 (body) and 503 are added when not given. */
  errors?: Partial<Record<ErrorStatus, string>>;
}

const RETRY_AFTER = {
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } },
};

/** Every route of the module answers 503 (with Retry-After) while the database is unreachable. */
const COMMON_ERRORS: Partial<Record<ErrorStatus, string>> = {
  503: 'The database cannot be reached: nothing about a token or a password can be known. Retry after `Retry-After` seconds.',
};
const BODY_ERRORS: Partial<Record<ErrorStatus, string>> = {
  400: 'Malformed JSON, a body that is not an object of the documented fields, or a field that fails validation (`message` lists them)',
  413: 'Body larger than the app accepts',
};
const CSRF_ERROR =
  '`CSRF check failed`: with cookie transport, a request without `X-Auth-Transport: cookie`, sent cross-site (`Sec-Fetch-Site`), or from an Origin that is neither the app nor a trusted one';
const BEARER_ERRORS: Partial<Record<ErrorStatus, string>> = {
  401: 'Missing, malformed, expired or revoked access token (`Missing bearer token`, `Invalid token`, `Token has expired`, `Token has been revoked`)',
};

/**
 * One route's OpenAPI description: summary, success answer, every error answer (in Nest's
 * `{statusCode, message, error}` shape, with `Retry-After` on 429 and 503), and the bearer scheme.
 */
export function ApiRoute(route: RouteDescription): MethodDecorator {
  const api = swagger;
  if (!api) return nothing;
  const bearer = route.bearer ?? true;
  const errors = {
    ...(route.database === false ? {} : COMMON_ERRORS),
    ...(route.body ? BODY_ERRORS : {}),
    ...(bearer ? BEARER_ERRORS : {}),
    ...route.errors,
  };
  if (route.csrf) errors[403] = route.errors?.[403] ? `${route.errors[403]}; or ${CSRF_ERROR}` : CSRF_ERROR;
  const decorators = [
    api.ApiOperation({ summary: route.summary, description: route.description }),
    route.success.orType && route.success.type
      ? applyDecorators(
          api.ApiExtraModels(route.success.type, route.success.orType),
          api.ApiResponse({
            status: route.success.status,
            description: route.success.description,
            schema: {
              oneOf: [
                { $ref: api.getSchemaPath(route.success.type) },
                { $ref: api.getSchemaPath(route.success.orType) },
              ],
            },
          }),
        )
      : api.ApiResponse({
          status: route.success.status,
          description: route.success.description,
          type: route.success.type,
          isArray: route.success.isArray,
        }),
    ...Object.entries(errors).map(([status, description]) =>
      api.ApiResponse({
        status: Number(status),
        description,
        type: ErrorResponse,
        headers: status === '429' || status === '503' ? RETRY_AFTER : undefined,
      }),
    ),
  ];
  if (route.csrf) {
    decorators.push(
      api.ApiHeader({
        name: 'X-Auth-Transport',
        required: false,
        description:
          '`cookie`: cookie transport (tokens in HttpOnly cookies, not in bodies). Required on every cookie-authenticated change, as CSRF proof.',
        schema: { type: 'string', enum: ['cookie'] },
      }),
    );
  }
  // Either scheme: a bearer header, or (cookie transport) the access cookie.
  if (bearer) decorators.push(api.ApiBearerAuth(), api.ApiCookieAuth('cookie'));
  return applyDecorators(...decorators);
}
