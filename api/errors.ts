import type { ErrorRequestHandler, RequestHandler } from 'express';
import { DomainError, ERROR_STATUS, type ErrorCode } from '../domain/errors.js';
import { isDbUnavailable, isUniqueViolation } from '../infra/db.js';

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

  if (isDbUnavailable(error)) return { status: 503, code: 'UNAVAILABLE', message: 'Postgres is unavailable; try again shortly.' };
  // 22021 / 22P05: a NUL character (U+0000) in text or jsonb, which Postgres cannot store. The client's input, not a bug.
  const pgCode = (error as { code?: unknown })?.code;
  if (pgCode === '22021' || pgCode === '22P05') return { status: 400, code: 'VALIDATION', message: 'Text values may not contain the NUL character (\\u0000).' };
  if (isUniqueViolation(error)) return { status: 409, code: 'CONFLICT', message: 'A resource with the same unique fields already exists.' };
  return { status: 500, code: 'INTERNAL', message: 'Internal error; it has been logged.' };
}

export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const http = toHttpError(error);
  if (http.status >= 500) console.error(`[api] ${req.method} ${req.originalUrl} failed:`, error);
  if (res.headersSent) return;
  if (http.retryAfter !== undefined) res.setHeader('Retry-After', String(http.retryAfter));
  res.status(http.status).json({ error: { code: http.code, message: http.message, ...(http.details !== undefined && { details: http.details }) } });
};

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: `No route for ${req.method} ${req.path}.` } });
};
