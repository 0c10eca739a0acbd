import { Client, Connection, isGrpcServiceError, ServiceError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { status as grpcStatus } from '@grpc/grpc-js';
import proto from '@temporalio/proto';
import { ERROR_STATUS, isErrorCode, type ErrorCode } from '../domain/errors.js';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions.js';

/** Every Temporal call made for an HTTP request is bounded by this, so a missing worker is a 503, not a hung request. */
export const REQUEST_DEADLINE_MS = 10_000;

export interface TemporalDeps {
  connection: Connection;
  client: Client;
  namespace: string;
  taskQueue: string;
}

/** Lazy: the API starts (and /readyz says why it is not ready) even while Temporal is down. */
export function createTemporal(address: string, namespace: string, taskQueue: string): TemporalDeps {
  const connection = Connection.lazy({ address, connectTimeout: '5s' });
  return { connection, client: new Client({ connection, namespace }), namespace, taskQueue };
}

export async function temporalReachable(connection: Connection): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + 3_000, () => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}

const INDEXED_VALUE_TYPE = {
  KEYWORD: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
} as const;

/** Registers Quorum's search attributes in the namespace; already-registered ones are left as they are. */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]])),
  });
}

type HttpError = { status: number; code: ErrorCode; message: string; details?: unknown; retryAfter?: number };

function grpcCode(error: unknown): number | undefined {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

/** Maps Temporal failures to the API's vocabulary: domain rejections from workflows, overload, unavailability. */
export function classifyTemporalError(error: unknown): HttpError | undefined {
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure) {
    const code = error.cause.type;
    if (isErrorCode(code)) return { status: ERROR_STATUS[code], code, message: error.cause.message, details: error.cause.details?.[0] };
  }
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return { status: 503, code: 'UNAVAILABLE', message: 'The item did not answer in time (is a worker running?); try again shortly.' };
  }
  const code = grpcCode(error);
  if (code === grpcStatus.RESOURCE_EXHAUSTED) {
    return { status: 429, code: 'RATE_LIMITED', message: 'Too many concurrent changes to this item; retry shortly.', retryAfter: 1 };
  }
  if (code === grpcStatus.UNAVAILABLE || code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED) {
    return { status: 503, code: 'UNAVAILABLE', message: 'Temporal is unavailable or did not answer in time; try again shortly.' };
  }
  if (error instanceof ServiceError && /deadline|unavailable|connect/i.test(error.message)) {
    return { status: 503, code: 'UNAVAILABLE', message: 'Temporal is unavailable or did not answer in time; try again shortly.' };
  }
  return undefined;
}
