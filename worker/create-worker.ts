import { createRequire } from 'node:module';
import { type NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundle, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type Activities, type ActivityDeps } from '../activities/index.js';

const require = createRequire(import.meta.url);

export const workflowsPath = require.resolve('../workflows/index.ts');

/** Bundles the workflow code once; tests share one bundle across files. */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath,
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: console.warn, error: console.error },
  });
}

export interface WorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  workflowBundle?: WorkflowBundleOption;
  /** Tests wrap the real activities (to hold or break one); production uses them as they are. */
  wrapActivities?: (activities: Activities) => Activities;
}

/**
 * Worker settings every Quorum worker shares (tests and the benchmark too). A workflow task for a worker
 * that died waits on its sticky queue until this timeout before any other worker may take it (default
 * 10 s): a lease that lapsed just after a crash would be freed that late. 1 s bounds that wait, at the
 * cost of a replay whenever a live but busy worker misses it.
 */
export const WORKER_TUNING = { stickyQueueScheduleToStartTimeout: '1s' } as const;

export async function createWorker(opts: WorkerOptions): Promise<Worker> {
  return Worker.create({
    ...WORKER_TUNING,
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath }),
    activities: (opts.wrapActivities ?? ((a) => a))(createActivities({ db: opts.db })),
  });
}
