import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DomainError, ERROR_STATUS, StillBeingApplied, type ErrorCode } from '../domain/errors.js';
import { inputRejectionOf, isDbUnavailable } from '../infra/db.js';

/** Translates every failure into the error envelope of DESIGN.md §5. Stacks never leave the server. */
export function toHttpError(error: unknown): { status: number; code: ErrorCode; message: string; details?: unknown; retryAfter?: number } {
  if (error instanceof DomainError) {
    // A refusal to shed load: the client may come back in a second.
    const retryAfter = error.code === 'RATE_LIMITED' ? 1 : undefined;
    return { status: ERROR_STATUS[error.code], code: error.code, message: error.message, details: error.details, retryAfter };
  }

  const bodyError = error as { type?: unknown; status?: unknown; message?: unknown; limit?: unknown };
  if (bodyError?.type === 'entity.parse.failed') return { status: 400, code: 'VALIDATION', message: `Malformed JSON body: ${String(bodyError.message)}` };
  if (bodyError?.type === 'entity.too.large') {
    return {
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: `Request body exceeds the limit of ${Math.round(Number(bodyError.limit) / 1024 / 1024)} MB for this route.`,
    };
  }
  if (typeof bodyError?.type === 'string' && typeof bodyError.status === 'number' && bodyError.status < 500) {
    return { status: 400, code: 'VALIDATION', message: String(bodyError.message) };
  }

  // A path parameter that is not valid percent-encoding (Express's router throws a URIError).
  if (error instanceof URIError) return { status: 400, code: 'VALIDATION', message: 'A path parameter is not valid percent-encoded UTF-8.' };
  // A body whose bytes do not match its Content-Encoding: zlib's codes are Z_* (gzip, deflate) and ERR__* (brotli).
  const zlibCode = (error as { code?: unknown })?.code;
  if (typeof zlibCode === 'string' && /^(Z_|ERR__)/.test(zlibCode)) {
    return { status: 400, code: 'VALIDATION', message: 'The request body does not match its Content-Encoding (it could not be decompressed).' };
  }

  if (isDbUnavailable(error)) return { status: 503, code: 'UNAVAILABLE', message: 'Postgres is unavailable; try again shortly.' };
  // Whatever a request's content can make Postgres refuse is the client's 4xx, so a gap in validation is never a 500.
  switch (inputRejectionOf(error)) {
    case 'duplicate':
      return { status: 409, code: 'CONFLICT', message: 'A resource with the same unique fields already exists.' };
    case 'invalid_value':
      return { status: 400, code: 'VALIDATION', message: 'A value in the request cannot be stored (invalid text, number or date for its field).' };
    case 'constraint':
      return {
        status: 400,
        code: 'VALIDATION',
        message: 'The request breaks a rule of the stored data (a missing reference, a required value, or an allowed range).',
      };
    case 'too_large':
      return { status: 400, code: 'VALIDATION', message: 'A value in the request is too large or nested too deeply to store.' };
    case undefined:
      return { status: 500, code: 'INTERNAL', message: 'Internal error; it has been logged.' };
  }
}

export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  if (error instanceof StillBeingApplied) {
    // Accepted, not yet durable at the deadline: the same request again (same Idempotency-Key) gets the final answer.
    if (!res.headersSent) res.status(202).json({ status: 'accepted', updateId: error.updateId, message: error.message });
    return;
  }
  const http = toHttpError(error);
  // The URL is an argument, never the format string: a '%s' in it must not swallow the error.
  if (http.status >= 500) console.error('[api] %s %s failed:', req.method, req.originalUrl, error);
  if (res.headersSent) return;
  if (http.retryAfter !== undefined) res.setHeader('Retry-After', String(http.retryAfter));
  res.status(http.status).json({ error: { code: http.code, message: http.message, ...(http.details !== undefined && { details: http.details }) } });
};

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${req.path}.` } });
};
