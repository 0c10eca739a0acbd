/** The one error vocabulary of Quorum (DESIGN.md §5). Every edge translates to and from these codes. */
export const ERROR_STATUS = {
  VALIDATION: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  INVALID_TRANSITION: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  /** A bug, never expected: logged with its stack on the server, only this code leaves it. */
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/**
 * Not an error: the workflow accepted the change, but it was not yet durable when the request's
 * deadline came. The API answers 202; sending the same update id again returns the final answer.
 */
export class StillBeingApplied extends Error {
  constructor(readonly updateId: string) {
    super('The change was accepted and is still being applied; send the same request again (same Idempotency-Key) for its final answer.');
    this.name = 'StillBeingApplied';
  }
}

export const validationError = (message: string, details?: unknown) => new DomainError('VALIDATION', message, details);
export const notFound = (message: string) => new DomainError('NOT_FOUND', message);
export const forbidden = (message: string) => new DomainError('FORBIDDEN', message);
export const conflict = (message: string, details?: unknown) => new DomainError('CONFLICT', message, details);

/** Why a queue score cannot be deleted directly: its item's workflow is its one writer. */
export const queueScoreIsTheItems = (scoreId: string) =>
  `Score ${scoreId} belongs to a queue item, so only the item's workflow may change it; a reviewer can request changes instead.`;
