import { STATUS_CODES } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

export const BODY_LIMIT = '100kb';

/**
 * HTTP settings shared by main.ts and the tests: trusted proxies, JSON bodies up to 100 kB, and body-parser
 * failures (malformed JSON, too large) answered in Nest's error shape instead of Express's HTML.
 */
export function configureApp(app: INestApplication, options: { trustProxy?: false | number | string } = {}): void {
  const expressApp = app as NestExpressApplication;
  // The client IP (sessions, login throttling) comes from X-Forwarded-For only behind trusted proxies.
  expressApp.set('trust proxy', options.trustProxy ?? false);
  expressApp.useBodyParser('json', { limit: BODY_LIMIT });
  expressApp.disable('x-powered-by');
  expressApp.use(bodyParserErrorHandler);
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
