import { createParamDecorator, type ExecutionContext, ValidationPipe } from '@nestjs/common';
import { type ClientRequest, clientAddress, storableUserAgent } from './client-address.js';

/** The client of a request as the module records it (sessions, security events, throttles). */
export interface ClientInfo {
  userAgent: string | null;
  /** A valid IP address or null (see clientAddress). */
  ip: string | null;
}

/** What the controllers read of a request: headers, client address, method and path. */
export type HttpRequest = ClientRequest & { method?: string; url?: string };

/** A valid IP address only, a user agent that fits its column. */
export function clientInfo(request: ClientRequest): ClientInfo {
  return { userAgent: storableUserAgent(request.headers['user-agent']), ip: clientAddress(request) };
}

/** Validation is the module's own, whatever pipes the host app configures. */
export const authValidationPipe = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  // Refuses bodies that are not a plain object of the DTO's shape (arrays, primitives).
  forbidUnknownValues: true,
  transform: true,
});

/** The request's client (clientInfo) as a route parameter. */
export const Client = createParamDecorator((_data: unknown, context: ExecutionContext): ClientInfo =>
  clientInfo(context.switchToHttp().getRequest<ClientRequest>()),
);
