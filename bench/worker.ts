import { createRequire } from 'node:module';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import { createDb } from '../infra/db.js';
import { WORKER_TUNING } from '../worker/create-worker.js';

/** The benchmark's worker: Quorum's workflows plus the no-op baselines, in its own process, with the SDK's default cache. */
Runtime.install({ logger: new DefaultLogger('WARN') });
const db = createDb(process.env.DATABASE_URL!);
const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
const worker = await Worker.create({
  ...WORKER_TUNING,
  connection,
  taskQueue: process.env.TEMPORAL_TASK_QUEUE!,
  workflowsPath: createRequire(import.meta.url).resolve('./workflows.ts'),
  activities: createActivities({ db }),
});
process.once('SIGTERM', () => worker.shutdown());
console.log('bench-worker-ready');
await worker.run();
await connection.close();
await db.destroy();
