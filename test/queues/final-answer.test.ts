import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPersistGate, submissionOf } from '../helpers/persist-gate.js';
import { createQueueFixture, type QueueFixture } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/**
 * The answer is the item's state after the call, completion included (DESIGN.md §1): the call that
 * completes an item answers `completed`, and everything a reader can see says so at that moment. No
 * waiting or polling anywhere in this file.
 */
describe('the answer that completes an item', () => {
  let system: TestSystem;
  const gate = createPersistGate();

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    await system.startWorker({ wrapActivities: gate.wrap });
  });
  afterAll(async () => system?.close());

  /** `scoreRows`: every round's scores stay, so a rework adds rows beyond the votes that count. */
  async function expectCompletedNow(q: QueueFixture, itemId: string, votes: number, scoreRows = votes) {
    const detail = await q.admin.get(q.path(`/items/${itemId}`));
    expect(detail.body.item.status).toBe('completed');
    expect(detail.body.results.map((r: { method: string }) => r.method)).toContain('majority');
    const rating = detail.body.results.find((r: { labelId: string }) => r.labelId === q.labels.rating);
    expect(rating.provenance.annotators).toHaveLength(votes);
    // Everyone the blind rule lets see the values sees them now: here, another annotator of the queue.
    const scores = await q.annotators.at(-1)!.api.get(`/api/v1/scores?queueId=${q.queueId}`);
    expect(scores.body.data.filter((s: { queueItemId: string }) => s.queueItemId === itemId)).toHaveLength(scoreRows);
    return detail;
  }

  it('answers completed to the submit that fills the last seat (no review), and the queue completes with its last item', async () => {
    const q = await createQueueFixture(system, { annotators: 2, items: 1 });
    const [a] = q.annotators;
    const itemId = q.itemIds[0]!;
    expect((await a!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    const submitted = await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] });
    expect(submitted.status).toBe(200);
    expect(submitted.body.item.status).toBe('completed');
    await expectCompletedNow(q, itemId, 1);
    expect((await q.admin.get(q.path())).body.status).toBe('completed');
  });

  it('answers completed to an approve, also after request_changes and a rework round', async () => {
    const q = await createQueueFixture(system, { annotators: 3, reviewers: 1, annotationsRequired: 2, requiresReview: true, items: 1 });
    const [a, b] = q.annotators;
    const reviewer = q.reviewers[0]!;
    const itemId = q.itemIds[0]!;
    for (const [p, value] of [
      [a!, 'good'],
      [b!, 'bad'],
    ] as const) {
      expect((await p.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
      expect((await p.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value }] })).body.item.status).toMatch(
        /in_progress|pending_review/,
      );
    }
    const sentBack = await reviewer.api.post(q.path(`/items/${itemId}/review`), {
      action: 'request_changes',
      targets: [{ annotatorId: b!.id, comment: 'Look again' }],
    });
    expect(sentBack.body.item.status).toBe('changes_requested');
    expect((await b!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    const reworked = await b!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] });
    expect(reworked.body.item.status).toBe('pending_review');
    const approved = await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' });
    expect(approved.status).toBe(200);
    expect(approved.body.item.status).toBe('completed');
    const detail = await expectCompletedNow(q, itemId, 2, 3);
    const rating = detail.body.results.find((r: { labelId: string }) => r.labelId === q.labels.rating);
    expect(rating.value).toBe('good');
  });

  it('finalizes with every vote when the last submit arrives while an earlier one is still being written', async () => {
    const q = await createQueueFixture(system, { annotators: 3, annotationsRequired: 2, items: 1 });
    const [a, b] = q.annotators;
    const itemId = q.itemIds[0]!;
    expect((await a!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    expect((await b!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    const { atGate, release } = gate.hold(submissionOf(a!.id));
    const first = a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] });
    await atGate;
    const last = b!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] });
    // The last submit is being applied behind the held one: give it the time to arrive, then let the first write go.
    await new Promise((r) => setTimeout(r, 500));
    release();
    const [firstAnswer, lastAnswer] = await Promise.all([first, last]);
    expect(firstAnswer.body.item.status).toBe('in_progress');
    expect(lastAnswer.body.item.status).toBe('completed');
    const detail = await expectCompletedNow(q, itemId, 2);
    const rating = detail.body.results.find((r: { labelId: string }) => r.labelId === q.labels.rating);
    expect(rating.value).toBe('bad');
  });
});
