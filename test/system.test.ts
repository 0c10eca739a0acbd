import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from './helpers/system.js';

describe('the worker path', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  it('runs a workflow on a real worker that reads Postgres through an activity', async () => {
    const result = await system.temporal.client.workflow.execute('pingWorkflow', {
      taskQueue: system.temporal.taskQueue,
      workflowId: `ping-${Date.now()}`,
      args: [],
    });
    const { rows } = await system.db.raw('select now() as now');
    expect(Math.abs(new Date(result.databaseTime).getTime() - new Date(rows[0].now).getTime())).toBeLessThan(60_000);
  });

  it('reports ready when Postgres and Temporal answer', async () => {
    const res = await system.as('').get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', postgres: 'ok', temporal: 'ok' });
  });
});
