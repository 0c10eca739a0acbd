import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Activities } from '../../activities/index.js';
import type { ItemState } from '../../domain/item.js';
import { stateQuery } from '../../workflows/definitions.js';
import { createPersistGate, submissionOf } from '../helpers/persist-gate.js';
import { createQueueFixture, waitFor } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/**
 * No transition can strand an item: when Postgres refuses one for good, the item goes back to its last
 * durable state, the refused transition and the later ones not yet durable are rejected (a retryable 409,
 * which the API retries once), and the item keeps working. The failure is real: the held commit is sent to
 * Postgres with a NUL character in a note, which Postgres refuses (SQLSTATE 22021).
 */
describe('a transition Postgres refuses', () => {
  let system: TestSystem;
  /** The annotator whose submissions' commits are poisoned. */
  let poisonFor: string | null = null;
  const gate = createPersistGate();

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    await system.startWorker({
      wrapActivities: (activities: Activities): Activities =>
        gate.wrap({
          ...activities,
          async persistItem(input) {
            if (poisonFor === null || input.submission?.annotatorId !== poisonFor) return activities.persistItem(input);
            const scores = input.submission.scores.map((s) => ({ ...s, notes: 'poison\u0000' }));
            return activities.persistItem({ ...input, submission: { ...input.submission, scores } });
          },
        }),
    });
  });
  afterAll(async () => system?.close());

  it('rolls the item back, rejects the refused submit and the one queued behind it, and takes both once they are sent again', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const [a, b] = q.annotators;
    const itemId = q.itemIds[0]!;
    expect((await a!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    expect((await b!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    const durableVersion: number = (await system.db('queue_items').where({ id: itemId }).first()).version;

    // A's commit is held; B's submit is accepted meanwhile and queued behind it.
    poisonFor = a!.id;
    const { atGate, release } = gate.hold(submissionOf(a!.id));
    const rating = { annotations: [{ label: 'rating', value: 'good' }] };
    const submitA = a!.api.post(q.path(`/items/${itemId}/submit`), rating, { 'idempotency-key': 'a-1' });
    await atGate;
    const submitB = b!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] }, { 'idempotency-key': 'b-1' });
    const handle = system.temporal.client.workflow.getHandle(`item-${itemId}`);
    await waitFor(
      () => handle.query<ItemState>(stateQuery),
      (s) => s.seats[b!.id]?.state === 'submitted',
    );
    release();

    // A's transition is refused (also when the API sends it once more). B's, queued behind it, was rolled back; the API
    // sent it once more, which lands unless it queued behind A's second attempt and was rolled back again.
    const [answerA, answerB] = await Promise.all([submitA, submitB]);
    const changed = {
      code: 'CONFLICT',
      message: 'The item changed while this request was being applied; read it again and retry.',
      details: { retryable: true },
    };
    expect(answerA.status).toBe(409);
    expect(answerA.body.error).toEqual(changed);
    if (answerB.status !== 200) expect(answerB.body.error).toEqual(changed);

    // What is durable is what the workflow holds: A still has their reservation and nothing of theirs is stored.
    const state = await handle.query<ItemState>(stateQuery);
    const row = await system.db('queue_items').where({ id: itemId }).first();
    const bTaken = answerB.status === 200;
    expect(row.version).toBe(state.version);
    expect(state.seats[a!.id]?.state).toBe('reserved');
    expect(state.seats[b!.id]?.state).toBe(bTaken ? 'submitted' : 'reserved');
    expect(row.reserved_by).toEqual(bTaken ? [a!.id] : [a!.id, b!.id].sort());
    expect(row.submitted_by).toEqual(bTaken ? [b!.id] : []);
    const scores = await system.db('scores').where({ queue_item_id: itemId }).select('annotator_id');
    expect(scores.map((s) => s.annotator_id)).toEqual(bTaken ? [b!.id] : []);
    if (bTaken) expect(row.version).toBeGreaterThan(durableVersion);
    else
      expect(
        (await b!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] }, { 'idempotency-key': 'b-1' })).status,
      ).toBe(200);

    // Postgres takes A's values again: the same request, with the same Idempotency-Key, now completes the item.
    poisonFor = null;
    const retried = await a!.api.post(q.path(`/items/${itemId}/submit`), rating, { 'idempotency-key': 'a-1' });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    const done = await waitFor(
      () => q.admin.get(q.path(`/items/${itemId}`)),
      (r) => r.body.item.status === 'completed',
    );
    expect(done.body.annotations).toHaveLength(2);
    expect(await system.db('scores').where({ queue_item_id: itemId }).count({ n: '*' }).first()).toEqual({ n: 2 });
    // The same key again answers as it did: the stored response.
    const again = await a!.api.post(q.path(`/items/${itemId}/submit`), rating, { 'idempotency-key': 'a-1' });
    expect(again.body).toEqual(retried.body);
  });

  it('reopens an item whose completing submit Postgres refused: the workflow keeps running and takes the submit once it can be stored', async () => {
    const q = await createQueueFixture(system, { annotators: 1, items: 1 });
    const [a] = q.annotators;
    const itemId = q.itemIds[0]!;
    expect((await a!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    poisonFor = a!.id;
    const refused = await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] }, { 'idempotency-key': 'last' });
    expect(refused.status).toBe(409);
    expect(refused.body.error.details).toEqual({ retryable: true });
    const handle = system.temporal.client.workflow.getHandle(`item-${itemId}`);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    const state = await handle.query<ItemState>(stateQuery);
    expect(state.status).toBe('in_progress');
    expect((await system.db('queue_items').where({ id: itemId }).first()).status).toBe('in_progress');

    poisonFor = null;
    const taken = await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] }, { 'idempotency-key': 'last' });
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);
    expect(taken.body.item.status).toBe('completed');
  });
});
