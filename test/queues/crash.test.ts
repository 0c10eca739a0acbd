import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createQueueFixture, waitFor } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

function startWorkerProcess(system: TestSystem, gate: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, '../helpers/worker-process.ts')], {
    env: {
      ...process.env,
      QUORUM_TEST_DATABASE_URL: system.databaseUrl,
      QUORUM_TEST_TEMPORAL_ADDRESS: inject('temporalAddress'),
      QUORUM_TEST_TASK_QUEUE: system.temporal.taskQueue,
      QUORUM_TEST_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      QUORUM_TEST_GATE_FILE: gate,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => String(d).includes('worker-ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`worker process exited with ${code}`)));
  });
}

describe('crash safety', () => {
  let system: TestSystem;
  let child: ChildProcess | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-gate-'));
  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await system?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('completes exactly once after the worker is SIGKILLed while the completing submit is written; the acknowledged submit before it stays', async () => {
    const gate = path.join(dir, 'open-finalize');
    child = await startWorkerProcess(system, gate);
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const itemId = q.itemIds[0]!;
    const [a, b] = q.annotators;
    const values = {
      annotations: [
        { label: 'rating', value: 'bad' },
        { label: 'score', value: 3 },
      ],
    };
    expect((await a!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    expect((await b!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    const acknowledged = await a!.api.post(q.path(`/items/${itemId}/submit`), values, { 'idempotency-key': 'crash-a' });
    expect(acknowledged.status).toBe(200);
    expect(acknowledged.body.item.status).toBe('in_progress');

    // B's submit fills the last seat, so its write finalizes the item: it is held at the gate, and the worker is killed there.
    const completing = b!.api.post(q.path(`/items/${itemId}/submit`), values, { 'idempotency-key': 'crash-b' });
    await waitFor(
      () => Promise.resolve(fs.existsSync(`${gate}.waiting`)),
      (v) => v,
    );
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const held = await system.db('queue_items').where({ id: itemId }).first();
    expect(held.status).not.toBe('completed');
    expect(held.submitted_by).toEqual([a!.id]);
    expect(await system.db('scores').where({ queue_item_id: itemId }).count({ n: '*' })).toEqual([{ n: 2 }]);
    // Accepted but not durable by the deadline: 202, and the same request again gets the final answer.
    const pending = await completing;
    expect(pending.status).toBe(202);
    expect(pending.body).toMatchObject({ status: 'accepted', updateId: `submit:${b!.id}:crash-b` });

    fs.writeFileSync(gate, 'open');
    await system.startWorker();
    const done = await waitFor(
      () => system.db('queue_items').where({ id: itemId }).first(),
      (row) => row.status === 'completed',
      45_000,
    );
    expect([...done.submitted_by].sort()).toEqual([a!.id, b!.id].sort());
    expect(await system.db('scores').where({ queue_item_id: itemId }).count({ n: '*' })).toEqual([{ n: 4 }]);
    const results = await system.db('item_results').where({ item_id: itemId });
    expect(results).toHaveLength(2);
    const events = (await system.db('item_events').where({ item_id: itemId }).orderBy('id')).map((e) => e.event);
    expect(events.filter((e) => e === 'submitted')).toHaveLength(2);
    expect(events.filter((e) => e === 'finalized')).toHaveLength(1);
    // The retry with the same key gets the final answer, and the acknowledged one is unchanged.
    const retry = await b!.api.post(q.path(`/items/${itemId}/submit`), values, { 'idempotency-key': 'crash-b' });
    expect(retry.status).toBe(200);
    expect(retry.body.item.status).toBe('completed');
    expect((await a!.api.post(q.path(`/items/${itemId}/submit`), values, { 'idempotency-key': 'crash-a' })).body).toEqual(acknowledged.body);
  }, 90_000);

  it('frees a lease that lapses just after the worker is SIGKILLed within 2 s of the replacement worker starting (or of the deadline)', async () => {
    await system.stopWorker();
    child = await startWorkerProcess(system, path.join(dir, 'unused-gate'));
    const q = await createQueueFixture(system, { annotators: 2, reservationTimeoutSeconds: 4, items: 1 });
    const [a, b] = q.annotators;
    const itemId = q.itemIds[0]!;
    const reserved = await a!.api.post(q.path(`/items/${itemId}/reserve`));
    expect(reserved.status).toBe(200);
    const deadline = Date.parse(reserved.body.reservation.expiresAt);

    // The worker dies a moment before the deadline; its replacement starts right away.
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now() - 1500)));
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    await system.startWorker();
    const replacementAt = Date.now();

    const freed = await waitFor(
      () => system.db('queue_items').where({ id: itemId }).first(),
      (row) => row.reserved_by.length === 0,
      15_000,
    );
    const freedAfter = Date.now() - Math.max(deadline, replacementAt);
    expect(freed.seats_occupied).toBe(0);
    expect(freedAfter, `freed ${freedAfter} ms after max(deadline, replacement start)`).toBeLessThan(2000);
    // next hands the seat to someone else straight away.
    const next = await b!.api.post(q.path('/next'));
    expect(next.status).toBe(200);
    expect(next.body.item.id).toBe(itemId);
  }, 60_000);
});
