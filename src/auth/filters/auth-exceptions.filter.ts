import { type ArgumentsHost, Catch, HttpException } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';
import { isDatabaseUnavailable } from '../database-errors.js';
import { AuthUnavailableException, RetryLaterException } from '../exceptions.js';

/**
 * The module's routes: an unreachable database becomes 503 (never a 500), and answers that say
 * when to retry (429, 503) carry `Retry-After`. Everything else is Nest's default handling.
 * Works on any HTTP adapter (headers go through the adapter).
 */
@Catch()
export class AuthExceptionsFilter extends BaseExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const answer =
      !(exception instanceof HttpException) && isDatabaseUnavailable(exception)
        ? new AuthUnavailableException()
        : exception;
    if (answer instanceof RetryLaterException && host.getType() === 'http') {
      const adapter = this.applicationRef ?? this.httpAdapterHost?.httpAdapter;
      adapter?.setHeader(host.switchToHttp().getResponse(), 'Retry-After', String(answer.retryAfterSeconds));
    }
    super.catch(answer, host);
  }
}
