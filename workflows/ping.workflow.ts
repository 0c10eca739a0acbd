import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { databaseTime } = proxyActivities<Activities>({ startToCloseTimeout: '10 seconds' });

/** A health check through the whole worker path: workflow, activity, Postgres. */
export async function pingWorkflow(): Promise<{ databaseTime: string }> {
  return { databaseTime: await databaseTime() };
}
