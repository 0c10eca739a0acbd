import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueFixture, waitFor } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

describe('an item from reservation to completion', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  it('completes an item needing two annotators only after both submitted every required label', async () => {
    const q = await createQueueFixture(system, { annotators: 3, annotationsRequired: 2, items: 1 });
    const [a, b, c] = q.annotators;
    const itemId = q.itemIds[0]!;

    const first = await a!.api.post(q.path('/next'));
    expect(first.status).toBe(200);
    expect(first.body.item.id).toBe(itemId);
    expect(first.body.reservation.expiresAt).toBeTruthy();

    const partial = await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'score', value: 5 }] });
    expect(partial.status).toBe(400);
    expect(partial.body.error.message).toBe('Missing required labels: rating.');

    const submitted = await a!.api.post(q.path(`/items/${itemId}/submit`), {
      annotations: [
        { label: 'rating', value: 'good' },
        { label: 'score', value: 7 },
      ],
    });
    expect(submitted.status).toBe(200);
    expect(submitted.body.item.status).toBe('in_progress');

    expect((await b!.api.post(q.path('/next'))).status).toBe(200);
    // Both seats are taken: the third annotator gets nothing.
    expect((await c!.api.post(q.path('/next'))).status).toBe(204);
    expect((await b!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] })).status).toBe(200);

    const done = await waitFor(
      () => q.admin.get(q.path(`/items/${itemId}`)),
      (r) => r.body.item.status === 'completed',
    );
    expect(done.body.annotations).toHaveLength(3);
    const rating = done.body.results.find((r: { method: string }) => r.method === 'majority');
    expect(rating.value).toBe('good');
    const history = await q.admin.get(q.path(`/items/${itemId}/history`));
    expect(history.body.data.map((e: { event: string }) => e.event)).toEqual(['created', 'reserved', 'submitted', 'reserved', 'submitted', 'finalized']);
  });
});
