import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { AdmissionLimits, DEFAULT_ADMISSION } from '../domain/admission.js';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions.js';

export interface TemporalDeps {
  connection: Connection;
  client: Client;
  namespace: string;
  taskQueue: string;
  /** This process's limits on updates in flight: load is shed before an update is sent. */
  admission: AdmissionLimits;
  /** How long a request waits on Temporal: a missing worker is a 503, a slow write a 202, never a hung request. */
  requestDeadlineMs: number;
}

export const REQUEST_DEADLINE_MS = 10_000;

/** Lazy: the API starts (and /readyz says why it is not ready) even while Temporal is down. */
export function createTemporal(address: string, namespace: string, taskQueue: string, opts: { requestDeadlineMs?: number } = {}): TemporalDeps {
  const connection = Connection.lazy({ address, connectTimeout: '5s' });
  return temporalDeps(connection, namespace, taskQueue, opts);
}

/** The deps over an existing connection (tests share one). */
export function temporalDeps(connection: Connection, namespace: string, taskQueue: string, opts: { requestDeadlineMs?: number } = {}): TemporalDeps {
  return {
    connection,
    client: new Client({ connection, namespace }),
    namespace,
    taskQueue,
    admission: new AdmissionLimits(DEFAULT_ADMISSION.maxInFlight, DEFAULT_ADMISSION.maxPerItem),
    requestDeadlineMs: opts.requestDeadlineMs ?? REQUEST_DEADLINE_MS,
  };
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
