import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { LoginThrottledException } from '../login-throttle.service.js';

/** Adds `Retry-After` to throttled answers; the body stays Nest's `{statusCode, message, error}`. */
@Catch(LoginThrottledException)
export class LoginThrottledFilter implements ExceptionFilter {
  catch(exception: LoginThrottledException, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    response.setHeader('Retry-After', String(exception.retryAfterSeconds));
    response.status(exception.getStatus()).json(exception.getResponse());
  }
}
