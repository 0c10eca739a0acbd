import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { loadConfigOrExit, REQUIRED_BY_PROCESS } from '../infra/config.js';
import { createDb } from '../infra/db.js';
import { createWorker } from './create-worker.js';

export interface RunningWorker {
  /** Resolves when the worker has stopped (after shutdown() or a fatal error). */
  done: Promise<void>;
  shutdown: () => Promise<void>;
}

/** Starts one worker; used by `npm run worker` and by `npm start`. */
export async function startWorker(opts: { databaseUrl: string; temporalAddress: string; namespace: string; taskQueue: string }): Promise<RunningWorker> {
  const db = createDb(opts.databaseUrl);
  const connection = await NativeConnection.connect({ address: opts.temporalAddress });
  const worker = await createWorker({ connection, namespace: opts.namespace, taskQueue: opts.taskQueue, db });
  const done = worker.run().finally(async () => {
    await connection.close();
    await db.destroy();
  });
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Runtime.install({ logger: new DefaultLogger('INFO'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });
  const config = loadConfigOrExit(REQUIRED_BY_PROCESS.worker);
  const worker = await startWorker({
    databaseUrl: config.DATABASE_URL!,
    temporalAddress: config.TEMPORAL_ADDRESS!,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
  });
  console.log(`Worker polling task queue "${config.TEMPORAL_TASK_QUEUE}"`);
  const stop = () => void worker.shutdown().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await worker.done;
}
