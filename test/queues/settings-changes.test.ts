import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPerson, createQueueFixture, waitFor } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

describe('queue changes and the items already in it', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  it('keeps the labels an item was added with when the queue labels change afterwards', async () => {
    const q = await createQueueFixture(system, { annotators: 1, items: 1 });
    const [a] = q.annotators;
    const oldItem = q.itemIds[0]!;
    const patched = await q.admin.patch(q.path(), { labels: [{ label: 'score', required: true }] });
    expect(patched.status).toBe(200);
    const [newItem] = await q.addItems(1);

    expect((await a!.api.post(q.path(`/items/${oldItem}/reserve`))).status).toBe(200);
    const missing = await a!.api.post(q.path(`/items/${oldItem}/submit`), { annotations: [{ label: 'score', value: 3 }] });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toBe('Missing required labels: rating.');
    expect((await a!.api.post(q.path(`/items/${oldItem}/submit`), { annotations: [{ label: 'rating', value: 'good' }] })).status).toBe(200);
    await waitFor(
      () => system.db('queue_items').where({ id: oldItem }).first(),
      (r) => r.status === 'completed',
    );
    const results = await system.db('item_results as r').join('labels as l', 'l.id', 'r.label_id').where('r.item_id', oldItem).select('l.key', 'r.value');
    expect(results.find((r) => r.key === 'rating')?.value).toBe('good');

    expect((await a!.api.post(q.path(`/items/${newItem}/reserve`))).status).toBe(200);
    const newOne = await a!.api.post(q.path(`/items/${newItem}/submit`), { annotations: [{ label: 'score', value: 4 }] });
    expect(newOne.status, JSON.stringify(newOne.body)).toBe(200);
  });

  it('assigns waiting round-robin items as soon as an annotator joins the queue', async () => {
    const q = await createQueueFixture(system, { annotators: 0, assignmentStrategy: 'round_robin', items: 2 });
    const rows = () => system.db('queue_items').whereIn('id', q.itemIds);
    await waitFor(rows, (r) => r.every((row) => row.version > 0));
    expect((await rows()).every((row) => row.assigned_to.length === 0)).toBe(true);

    const person = await createPerson(system, q.admin, 'late');
    expect((await q.admin.patch(q.path(), { members: [{ userId: person.id, roles: ['annotator'] }] })).status).toBe(200);
    await waitFor(rows, (r) => r.every((row) => row.assigned_to.includes(person.id)));
    const next = await person.api.post(q.path('/next'));
    expect(next.status).toBe(200);
    expect(q.itemIds).toContain(next.body.item.id);
  });
});
