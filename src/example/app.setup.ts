import { STATUS_CODES } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { AbstractHttpAdapter } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { ACCESS_TOKEN_COOKIE, AuthExceptionsFilter } from '../auth/index.js';

export type HttpAdapterKind = 'express' | 'fastify';

export const BODY_LIMIT_BYTES = 100 * 1024;

export interface HttpOptions {
  /** Which proxies' X-Forwarded-For to believe for the client IP: a hop count, addresses, or false. */
  trustProxy?: false | number | string;
}

/**
 * The HTTP adapter of the example app (HTTP_ADAPTER). Fastify takes its settings when it is
 * created: trusted proxies and the body limit.
 */
export function createHttpAdapter(kind: HttpAdapterKind, options: HttpOptions = {}): AbstractHttpAdapter {
  if (kind === 'fastify') {
    // Fastify takes a hop count too (its types list only the other forms).
    const trustProxy = (options.trustProxy ?? false) as boolean | string;
    return new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, trustProxy });
  }
  return new ExpressAdapter();
}

/**
 * Options for NestFactory.create / createNestApplication: no parsers of Nest's. Express gets only
 * the JSON parser, registered by configureApp with its limit; Fastify parses JSON itself, and
 * Nest's registration would add form bodies, which no route of the module takes.
 */
export const APPLICATION_OPTIONS = { bodyParser: false } as const;

/**
 * HTTP settings shared by main.ts, the benches and the tests: trusted proxies, JSON bodies up to
 * 100 kB, and body-parser failures (malformed JSON, too large, unsupported type) answered in
 * Nest's error shape `{statusCode, message, error}` on either adapter.
 */
export async function configureApp(
  app: INestApplication,
  kind: HttpAdapterKind,
  options: HttpOptions = {},
): Promise<void> {
  // Everywhere, not only on the module's routes: an unreachable database is 503 with Retry-After,
  // and a client error raised by the framework (Fastify's body parsing) keeps Nest's shape.
  app.useGlobalFilters(new AuthExceptionsFilter(app.getHttpAdapter()));
  setupApiDocs(app);
  if (kind === 'fastify') return;
  const expressApp = app as NestExpressApplication;
  // The client IP (sessions, login throttling) comes from X-Forwarded-For only behind trusted proxies.
  expressApp.set('trust proxy', options.trustProxy ?? false);
  expressApp.useBodyParser('json', { limit: BODY_LIMIT_BYTES });
  expressApp.disable('x-powered-by');
  expressApp.use(bodyParserErrorHandler);
}

/**
 * The OpenAPI document of the app (the module's routes, described by the module, and the app's
 * own) at /docs-json, and Swagger UI (served from swagger-ui-dist, no CDN) at /docs. The document
 * is built on its first request, so the start stays fast.
 */
export function setupApiDocs(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('nest-jwt-revocation example app')
    .setDescription(
      'Access and refresh JWTs that can be revoked for real. Error answers have the shape `{statusCode, message, error}`.',
    )
    .setVersion('0.2.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    // Cookie transport: the access token in the __Host- cookie (see the CSRF rules).
    .addCookieAuth(ACCESS_TOKEN_COOKIE, { type: 'apiKey', in: 'cookie', name: ACCESS_TOKEN_COOKIE }, 'cookie')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config), { jsonDocumentUrl: 'docs-json' });
}

/** Fastify answers only once its plugins are loaded: call after app.init(). */
export async function whenReady(app: INestApplication, kind: HttpAdapterKind): Promise<void> {
  if (kind === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
}

interface BodyParserError extends Error {
  status?: number;
  type?: string;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 413: 'Payload Too Large', 415: 'Unsupported Media Type' };

function bodyParserErrorHandler(error: BodyParserError, _request: Request, response: Response, next: NextFunction) {
  const status = error.status ?? 0;
  // Any 4xx from the body parser (malformed JSON, too large, a body that fails to decompress) is
  // the client's: answered in Nest's shape. Anything else goes on to Nest's own handling.
  if (status < 400 || status >= 500) return next(error);
  const message =
    error.type === 'entity.parse.failed'
      ? 'Malformed JSON body'
      : error.type
        ? error.message
        : 'Malformed request body';
  response
    .status(status)
    .json({ statusCode: status, message, error: REASONS[status] ?? STATUS_CODES[status] ?? 'Bad Request' });
}
