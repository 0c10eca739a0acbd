import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueFixture, waitFor, type Person, type QueueFixture } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/** Submit is idempotent by Idempotency-Key (DESIGN.md §4): key, caller, body hash and response are stored in Postgres. */
describe('idempotent submit', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  const body = (rating: string, score = 4) => ({
    annotations: [
      { label: 'rating', value: rating },
      { label: 'score', value: score },
    ],
  });

  async function counts(itemId: string) {
    const [scores, submissions, events] = await Promise.all([
      system.db('scores').where({ queue_item_id: itemId }).count<{ n: number }[]>({ n: '*' }),
      system.db('submissions').where({ item_id: itemId }).count<{ n: number }[]>({ n: '*' }),
      system.db('item_events').where({ item_id: itemId, event: 'submitted' }).count<{ n: number }[]>({ n: '*' }),
    ]);
    return { scores: Number(scores[0]!.n), submissions: Number(submissions[0]!.n), submittedEvents: Number(events[0]!.n) };
  }

  const submit = (q: QueueFixture, person: Person, itemId: string, payload: unknown, key?: string) =>
    person.api.post(q.path(`/items/${itemId}/submit`), payload, key === undefined ? {} : { 'Idempotency-Key': key });

  async function reserve(q: QueueFixture, person: Person, itemId: string) {
    const res = await person.api.post(q.path(`/items/${itemId}/reserve`));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }

  it('answers a retried submit with the same response and writes no new score or submission rows', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const a = q.annotators[0]!;
    const itemId = q.itemIds[0]!;
    await reserve(q, a, itemId);
    const key = `key-${randomUUID()}`;

    const first = await submit(q, a, itemId, body('good'), key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.item).toEqual({ id: itemId, status: 'in_progress' });
    expect(first.body.scores).toHaveLength(2);
    const after = await counts(itemId);
    expect(after).toEqual({ scores: 2, submissions: 1, submittedEvents: 1 });
    const stored = await system.db('submissions').where({ item_id: itemId }).first();
    expect(stored).toMatchObject({ annotator_id: a.id, idempotency_key: key });
    expect(stored.response).toEqual(first.body);

    for (let i = 0; i < 2; i++) {
      const retry = await submit(q, a, itemId, body('good'), key);
      expect(retry.status).toBe(200);
      expect(retry.body).toEqual(first.body);
    }
    expect(await counts(itemId)).toEqual(after);
    // One update in the workflow's history, with the documented id.
    const history = await system.temporal.client.workflow.getHandle(`item-${itemId}`).fetchHistory();
    const submitUpdates = (history.events ?? [])
      .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest)
      .filter((r) => r?.input?.name === 'submit')
      .map((r) => r!.meta?.updateId);
    expect(submitUpdates).toEqual([`submit:${a.id}:${key}`]);
    // The score ids answered are the rows written.
    const ids = (await system.db('scores').where({ queue_item_id: itemId }).select('id')).map((r) => r.id).sort();
    expect(first.body.scores.map((s: { id: string }) => s.id).sort()).toEqual(ids);
  });

  it('answers two simultaneous submits with the same key with one response and writes the submission once', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const a = q.annotators[0]!;
    const itemId = q.itemIds[0]!;
    await reserve(q, a, itemId);
    const key = `key-${randomUUID()}`;
    const [one, two] = await Promise.all([submit(q, a, itemId, body('bad'), key), submit(q, a, itemId, body('bad'), key)]);
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    expect(two.status, JSON.stringify(two.body)).toBe(200);
    expect(two.body).toEqual(one.body);
    expect(await counts(itemId)).toEqual({ scores: 2, submissions: 1, submittedEvents: 1 });
  });

  it('answers a retry with the stored response after the item completed and its workflow closed', async () => {
    const q = await createQueueFixture(system, { annotators: 1, annotationsRequired: 1, items: 1 });
    const a = q.annotators[0]!;
    const itemId = q.itemIds[0]!;
    await reserve(q, a, itemId);
    const key = `key-${randomUUID()}`;
    const first = await submit(q, a, itemId, body('good', 9), key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);

    await waitFor(
      () => system.db('queue_items').where({ id: itemId }).first(),
      (r) => r.status === 'completed',
    );
    const handle = system.temporal.client.workflow.getHandle(`item-${itemId}`);
    await waitFor(
      () => handle.describe(),
      (d) => d.status.name === 'COMPLETED',
    );
    const before = await counts(itemId);
    const results = await system.db('item_results').where({ item_id: itemId });

    const retry = await submit(q, a, itemId, body('good', 9), key);
    expect(retry.status, JSON.stringify(retry.body)).toBe(200);
    expect(retry.body).toEqual(first.body);
    expect(await counts(itemId)).toEqual(before);
    expect(await system.db('item_results').where({ item_id: itemId })).toEqual(results);

    // The same key with another body is still refused; a new key reaches the closed item and is refused too.
    const changed = await submit(q, a, itemId, body('bad', 9), key);
    expect(changed.status).toBe(409);
    expect(changed.body.error.code).toBe('CONFLICT');
    const fresh = await submit(q, a, itemId, body('good', 9), `key-${randomUUID()}`);
    expect(fresh.status).toBe(409);
    expect(await counts(itemId)).toEqual(before);
  });

  it('refuses the same key with another body with 409 and writes nothing', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 2 });
    const a = q.annotators[0]!;
    const [itemId, otherId] = q.itemIds as [string, string];
    await reserve(q, a, itemId);
    const key = `key-${randomUUID()}`;
    const first = await submit(q, a, itemId, body('good', 4), key);
    expect(first.status).toBe(200);
    const before = await counts(itemId);

    for (const other of [body('bad', 4), body('good', 5), { annotations: [{ label: 'rating', value: 'good' }] }]) {
      const res = await submit(q, a, itemId, other, key);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('CONFLICT');
      expect(res.body.error.message).toMatch(/Idempotency-Key/);
    }
    expect(await counts(itemId)).toEqual(before);

    // The same key and body on another item is another request: refused, nothing written there.
    await reserve(q, a, otherId);
    const elsewhere = await submit(q, a, otherId, body('good', 4), key);
    expect(elsewhere.status).toBe(409);
    expect(await counts(otherId)).toEqual({ scores: 0, submissions: 0, submittedEvents: 0 });
    const stored = await system.db('submissions').where({ idempotency_key: key });
    expect(stored).toHaveLength(1);
    expect(stored[0].response).toEqual(first.body);
  });

  it('keys are per caller: another annotator using the same key gets their own submission', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const [a, b] = q.annotators as [Person, Person];
    const itemId = q.itemIds[0]!;
    const key = `shared-${randomUUID()}`;
    await reserve(q, a, itemId);
    await reserve(q, b, itemId);
    const fromA = await submit(q, a, itemId, body('good', 4), key);
    const fromB = await submit(q, b, itemId, body('good', 4), key);
    expect(fromA.status).toBe(200);
    expect(fromB.status, JSON.stringify(fromB.body)).toBe(200);
    expect(fromB.body.scores.map((s: { id: string }) => s.id)).not.toEqual(fromA.body.scores.map((s: { id: string }) => s.id));
    const scores = await system.db('scores').where({ queue_item_id: itemId }).select('annotator_id');
    expect(scores.map((s) => s.annotator_id).sort()).toEqual([a.id, a.id, b.id, b.id].sort());
    expect(await system.db('submissions').where({ idempotency_key: key })).toHaveLength(2);
  });

  it('accepts a submit without a key, and refuses a second one for the same seat', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const a = q.annotators[0]!;
    const itemId = q.itemIds[0]!;
    await reserve(q, a, itemId);
    const res = await submit(q, a, itemId, body('good', 2));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.item).toEqual({ id: itemId, status: 'in_progress' });
    expect(res.body.round).toBe(1);
    expect(await counts(itemId)).toEqual({ scores: 2, submissions: 1, submittedEvents: 1 });
    const stored = await system.db('submissions').where({ item_id: itemId }).first();
    expect(stored.annotator_id).toBe(a.id);
    expect(stored.response).toEqual(res.body);

    // Without a key there is nothing to replay: a second submit is a new request, refused.
    const again = await submit(q, a, itemId, body('good', 2));
    expect(again.status).toBe(409);
    expect(await counts(itemId)).toEqual({ scores: 2, submissions: 1, submittedEvents: 1 });
  });

  it('does not spend a key on a refused attempt: the same key succeeds once the request is valid', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const a = q.annotators[0]!;
    const itemId = q.itemIds[0]!;
    const key = `key-${randomUUID()}`;
    // No reservation yet: refused by the workflow, nothing stored.
    const early = await submit(q, a, itemId, body('good'), key);
    expect(early.status).toBe(409);
    await reserve(q, a, itemId);
    // A required label missing: refused, nothing stored.
    const partial = await submit(q, a, itemId, { annotations: [{ label: 'score', value: 3 }] }, key);
    expect(partial.status).toBe(400);
    expect(partial.body.error.message).toBe('Missing required labels: rating.');
    expect(await counts(itemId)).toEqual({ scores: 0, submissions: 0, submittedEvents: 0 });

    const ok = await submit(q, a, itemId, body('good'), key);
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.item.status).toBe('in_progress');
    expect(await counts(itemId)).toEqual({ scores: 2, submissions: 1, submittedEvents: 1 });
    expect((await submit(q, a, itemId, body('good'), key)).body).toEqual(ok.body);
  });

  it('refuses an empty or overlong Idempotency-Key with 400 and writes nothing', async () => {
    const q = await createQueueFixture(system, { annotators: 1, annotationsRequired: 1, items: 1 });
    const a = q.annotators[0]!;
    const itemId = q.itemIds[0]!;
    await reserve(q, a, itemId);
    for (const key of ['   ', 'k'.repeat(201)]) {
      const res = await submit(q, a, itemId, body('good'), key);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
      expect(res.body.error.message).toMatch(/Idempotency-Key/);
    }
    expect(await counts(itemId)).toEqual({ scores: 0, submissions: 0, submittedEvents: 0 });
    expect((await submit(q, a, itemId, body('good'), 'k'.repeat(200))).status).toBe(200);
  });
});
