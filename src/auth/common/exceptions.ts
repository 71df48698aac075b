import { HttpException, HttpStatus } from '@nestjs/common';
import { AuthErrors, UNAVAILABLE_RETRY_AFTER_SECONDS } from '../auth.constants.js';

/**
 * An answer that tells the client when to try again: the module's filter (and the guard, on the
 * host's routes) adds `Retry-After`; the body stays Nest's `{statusCode, message, error}`.
 */
export class RetryLaterException extends HttpException {
  constructor(
    status: HttpStatus,
    message: string,
    error: string,
    readonly retryAfterSeconds: number,
  ) {
    super({ statusCode: status, message, error }, status);
  }
}

/** Whole seconds from `now` until `unlocksAt`, at least 1: what `Retry-After` says. */
export function secondsUntil(unlocksAt: Date, now: Date): number {
  return Math.max(1, Math.ceil((unlocksAt.getTime() - now.getTime()) / 1000));
}

/** 429 with the seconds to wait. */
export class TooManyRequestsException extends RetryLaterException {
  constructor(message: string, retryAfterSeconds: number) {
    super(HttpStatus.TOO_MANY_REQUESTS, message, 'Too Many Requests', retryAfterSeconds);
  }
}

/** 503: the database cannot be reached, so nothing about a token or a password can be known. */
export class AuthUnavailableException extends RetryLaterException {
  constructor() {
    super(
      HttpStatus.SERVICE_UNAVAILABLE,
      AuthErrors.unavailable,
      'Service Unavailable',
      UNAVAILABLE_RETRY_AFTER_SECONDS,
    );
  }
}
