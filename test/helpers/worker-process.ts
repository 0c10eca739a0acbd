/**
 * A worker in its own process, so a test can SIGKILL it like a crashed machine. The activity that
 * finalizes an item waits at a gate (a file that the test creates) and announces that it is waiting (another file).
 */
import fs from 'node:fs';
import { NativeConnection, Worker, DefaultLogger, Runtime } from '@temporalio/worker';
import { createActivities } from '../../activities/index.js';
import { createDb } from '../../infra/db.js';
import { WORKER_TUNING } from '../../worker/create-worker.js';

const env = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

Runtime.install({ logger: new DefaultLogger('WARN') });
const db = createDb(env('QUORUM_TEST_DATABASE_URL'));
const gate = env('QUORUM_TEST_GATE_FILE');
const activities = createActivities({ db });
const gated = {
  ...activities,
  async persistItem(input: Parameters<typeof activities.persistItem>[0]) {
    if (input.finalize) {
      fs.writeFileSync(`${gate}.waiting`, input.snapshot.itemId);
      while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 50));
    }
    return activities.persistItem(input);
  },
};
const connection = await NativeConnection.connect({ address: env('QUORUM_TEST_TEMPORAL_ADDRESS') });
const worker = await Worker.create({
  ...WORKER_TUNING,
  connection,
  namespace: 'default',
  taskQueue: env('QUORUM_TEST_TASK_QUEUE'),
  workflowBundle: { codePath: env('QUORUM_TEST_WORKFLOW_BUNDLE') },
  activities: gated,
});
console.log('worker-ready');
await worker.run();
