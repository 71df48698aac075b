/**
 * Whether an error means the database cannot be reached or is going away (as opposed to a fault
 * in a statement): such requests get 503 with Retry-After, never a 500, and never an answer that
 * pretends to know. Covers node's socket errors, pg's connection messages, and PostgreSQL's
 * connection-exception (08), shutdown (57P01-57P03), too-many-connections (53300) and timeout
 * (57014 statement timeout, 57P05 idle session timeout) codes.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 4; depth += 1) {
    const candidate = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    const code = typeof candidate.code === 'string' ? candidate.code : '';
    if (SOCKET_CODES.has(code) || code.startsWith('08') || SERVER_CODES.has(code)) return true;
    const message = typeof candidate.message === 'string' ? candidate.message : '';
    if (MESSAGES.some((pattern) => pattern.test(message))) return true;
    current = candidate.driverError ?? candidate.cause;
  }
  return false;
}

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
// Shutdowns, too many connections, and timeouts that an operator set (statement, idle session).
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '57P05', '57014', '53300']);
const MESSAGES = [
  /^Connection terminated/,
  /timeout exceeded when trying to connect/,
  /Client has encountered a connection error and is not queryable/,
  /Client was closed and is not queryable/,
  /Cannot use a pool after calling end on the pool/,
  /the database system is (starting up|shutting down|in recovery mode)/,
];
