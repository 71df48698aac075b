import { STATUS_CODES } from 'node:http';
import { type ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { isDatabaseUnavailable } from './database-errors.js';
import { AuthUnavailableException, RetryLaterException } from './exceptions.js';

/** An error of the HTTP framework that carries its own 4xx status (Fastify's body parsing, for one). */
interface FrameworkClientError {
  statusCode: number;
  code?: string;
  message: string;
}

function isFrameworkClientError(error: unknown): error is FrameworkClientError {
  const candidate = error as Partial<FrameworkClientError> | null;
  return (
    typeof candidate?.statusCode === 'number' &&
    candidate.statusCode >= 400 &&
    candidate.statusCode < 500 &&
    typeof candidate.message === 'string'
  );
}

/**
 * The module's routes: an unreachable database becomes 503 (never a 500), answers that say when
 * to retry (429, 503) carry `Retry-After`, and a client error raised by the HTTP framework itself
 * (a body Fastify cannot parse or that is too large) keeps Nest's `{statusCode, message, error}`
 * shape. Everything else is Nest's default handling. Works on either HTTP adapter (headers go
 * through the adapter).
 */
@Catch()
export class AuthExceptionsFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const answer = AuthExceptionsFilter.normalise(exception);
    if (answer instanceof RetryLaterException && host.getType() === 'http') {
      const adapter = this.applicationRef ?? this.httpAdapterHost?.httpAdapter;
      adapter?.setHeader(host.switchToHttp().getResponse(), 'Retry-After', String(answer.retryAfterSeconds));
    }
    super.catch(answer, host);
  }

  static normalise(exception: unknown): unknown {
    if (exception instanceof HttpException) {
      // Nest's Fastify adapter wraps Fastify's own client errors (a body it cannot parse, or too
      // large) in an HttpException with a bare message: give it the usual shape.
      if (typeof exception.getResponse() !== 'string') return exception;
      return AuthExceptionsFilter.shaped(exception.getStatus(), exception.message, exception.cause);
    }
    if (isDatabaseUnavailable(exception)) return new AuthUnavailableException();
    if (isFrameworkClientError(exception)) {
      return AuthExceptionsFilter.shaped(exception.statusCode, exception.message, exception);
    }
    return exception;
  }

  private static shaped(status: number, message: string, cause: unknown): HttpException {
    const code = (cause as { code?: unknown } | undefined)?.code;
    const text = code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? 'Malformed JSON body' : message;
    return new HttpException({ statusCode: status, message: text, error: STATUS_CODES[status] ?? 'Error' }, status);
  }
}
