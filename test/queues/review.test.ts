import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPerson, createQueueFixture, waitFor, type Person, type QueueFixture } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/** Review (DESIGN.md §4): approve, request changes for some annotators, and who may review. */
describe('reviewing an item', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  const reviewQueue = (extra: Parameters<typeof createQueueFixture>[1] = {}) =>
    createQueueFixture(system, { annotators: 2, reviewers: 1, annotationsRequired: 2, requiresReview: true, items: 1, ...extra });

  /** Reserves the item and submits these values; returns the submit response. */
  async function annotate(q: QueueFixture, person: Person, itemId: string, rating: string, score?: number) {
    const reserved = await person.api.post(q.path(`/items/${itemId}/reserve`));
    expect(reserved.status, JSON.stringify(reserved.body)).toBe(200);
    const annotations: { label: string; value: unknown }[] = [{ label: 'rating', value: rating }];
    if (score !== undefined) annotations.push({ label: 'score', value: score });
    const submitted = await person.api.post(q.path(`/items/${itemId}/submit`), { annotations });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(200);
    return submitted;
  }

  const itemRow = (itemId: string) => system.db('queue_items').where({ id: itemId }).first();
  const scoreRows = (itemId: string) =>
    system
      .db('scores')
      .where({ queue_item_id: itemId })
      .orderBy([{ column: 'annotator_id' }, { column: 'round' }]);

  it('holds a fully submitted item in pending_review until a reviewer approves it, then completes it with results', async () => {
    const q = await reviewQueue();
    const [a, b] = q.annotators as [Person, Person];
    const reviewer = q.reviewers[0]!;
    const itemId = q.itemIds[0]!;

    const first = await annotate(q, a, itemId, 'good', 4);
    expect(first.body.item.status).toBe('in_progress');
    const second = await annotate(q, b, itemId, 'good', 6);
    expect(second.body.item.status).toBe('pending_review');

    const row = await itemRow(itemId);
    expect(row.status).toBe('pending_review');
    expect([...row.submitted_by].sort()).toEqual([a.id, b.id].sort());
    // The workflow does not finalize on its own: no results until a reviewer acts.
    await new Promise((r) => setTimeout(r, 500));
    expect((await itemRow(itemId)).status).toBe('pending_review');
    expect(await system.db('item_results').where({ item_id: itemId })).toHaveLength(0);

    // An annotator cannot ask for review work; the reviewer gets the item.
    expect((await a.api.post(q.path('/next?mode=review'))).status).toBe(403);
    const next = await reviewer.api.post(q.path('/next?mode=review'));
    expect(next.status).toBe(200);
    expect(next.body.item.id).toBe(itemId);
    expect(next.body.item.status).toBe('pending_review');
    // An annotator's next never offers an item in review.
    expect((await a.api.post(q.path('/next'))).status).toBe(204);

    const approved = await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve', comment: 'fine' });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body.item.id).toBe(itemId);

    const done = await waitFor(
      () => itemRow(itemId),
      (r) => r.status === 'completed',
    );
    expect(done.closed_at).not.toBeNull();
    expect(done.review).toMatchObject({ state: 'approved', reviewerId: reviewer.id, comment: 'fine' });

    const labels = await system.db('labels').where({ workspace_id: q.workspaceId }).select('id', 'key');
    const labelId = (key: string) => labels.find((l) => l.key === key)!.id;
    const results = await system.db('item_results').where({ item_id: itemId });
    expect(results).toHaveLength(2);
    const rating = results.find((r) => r.label_id === labelId('rating'))!;
    expect(rating.value).toBe('good');
    expect(rating.method).toBe('majority');
    expect(rating.provenance.approvedBy).toBe(reviewer.id);
    const score = results.find((r) => r.label_id === labelId('score'))!;
    expect(score.method).toBe('mean');
    expect(score.value).toBe(5);

    const events = (await system.db('item_events').where({ item_id: itemId }).orderBy('id')).map((e) => e.event);
    expect(events).toEqual(['created', 'reserved', 'submitted', 'reserved', 'submitted', 'reviewed', 'finalized']);
    const reviewed = await system.db('item_events').where({ item_id: itemId, event: 'reviewed' }).first();
    expect(reviewed.actor_id).toBe(reviewer.id);
    expect(reviewed.details).toMatchObject({ action: 'approve' });

    // Nothing is left to review.
    expect((await reviewer.api.post(q.path('/next?mode=review'))).status).toBe(204);
  });

  it("lets the approving reviewer's override win over the annotators' majority, with provenance", async () => {
    const q = await reviewQueue();
    const [a, b] = q.annotators as [Person, Person];
    const reviewer = q.reviewers[0]!;
    const itemId = q.itemIds[0]!;
    await annotate(q, a, itemId, 'good', 4);
    await annotate(q, b, itemId, 'good', 6);
    await waitFor(
      () => itemRow(itemId),
      (r) => r.status === 'pending_review',
    );

    const bad = await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve', overrides: [{ label: 'rating', value: 'excellent' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('Invalid value: excellent. Valid options are: good, bad.');
    const withChanges = await reviewer.api.post(q.path(`/items/${itemId}/review`), {
      action: 'request_changes',
      overrides: [{ label: 'rating', value: 'bad' }],
    });
    expect(withChanges.status).toBe(400);
    expect((await itemRow(itemId)).status).toBe('pending_review');

    const approved = await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve', overrides: [{ label: 'rating', value: 'bad' }] });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    await waitFor(
      () => itemRow(itemId),
      (r) => r.status === 'completed',
    );
    const results = await system
      .db('item_results as r')
      .join('labels as l', 'l.id', 'r.label_id')
      .where('r.item_id', itemId)
      .select('l.key', 'r.value', 'r.method', 'r.provenance');
    const rating = results.find((r) => r.key === 'rating')!;
    expect(rating).toMatchObject({ value: 'bad', method: 'reviewer_override' });
    expect(rating.provenance.reviewerId).toBe(reviewer.id);
    const score = results.find((r) => r.key === 'score')!;
    expect(score).toMatchObject({ value: 5, method: 'mean' });
    expect(score.provenance.median).toBe(5);
  });

  it('sends only the targeted annotator back; their resubmission is round 2 and returns the item to pending_review', async () => {
    const q = await reviewQueue({ annotators: 3 });
    const [a, b, c] = q.annotators as [Person, Person, Person];
    const reviewer = q.reviewers[0]!;
    const itemId = q.itemIds[0]!;
    await annotate(q, a, itemId, 'bad', 2);
    await annotate(q, b, itemId, 'good', 8);

    const sentBack = await reviewer.api.post(q.path(`/items/${itemId}/review`), {
      action: 'request_changes',
      comment: 'please look again',
      targets: [{ annotatorId: a.id, label: 'rating', comment: 'the answer is correct' }],
    });
    expect(sentBack.status, JSON.stringify(sentBack.body)).toBe(200);
    expect(sentBack.body.item.status).toBe('changes_requested');

    const row = await itemRow(itemId);
    expect(row.status).toBe('changes_requested');
    expect(row.rework_for).toEqual([a.id]);
    expect(row.submitted_by).toEqual([b.id]);
    expect(row.review).toMatchObject({ state: 'changes_requested', reviewerId: reviewer.id, comment: 'please look again' });
    const reviewed = await system.db('item_events').where({ item_id: itemId, event: 'reviewed' }).first();
    expect(reviewed.details).toMatchObject({
      action: 'request_changes',
      targets: [{ annotatorId: a.id, labelKey: 'rating', comment: 'the answer is correct' }],
    });

    // The other annotator, and one who never took a seat, are not offered the item.
    expect((await b.api.post(q.path('/next'))).status).toBe(204);
    expect((await c.api.post(q.path('/next'))).status).toBe(204);
    const bReserve = await b.api.post(q.path(`/items/${itemId}/reserve`));
    expect(bReserve.status).toBe(409);
    expect((await c.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(409);
    // While changes are requested there is nothing to review, and approval is refused.
    expect((await reviewer.api.post(q.path('/next?mode=review'))).status).toBe(204);
    const early = await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' });
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('CONFLICT');

    // The targeted annotator's next returns the item, for round 2.
    const rework = await a.api.post(q.path('/next'));
    expect(rework.status).toBe(200);
    expect(rework.body.item.id).toBe(itemId);
    expect(rework.body.reservation).toMatchObject({ round: 2 });
    expect((await itemRow(itemId)).status).toBe('changes_requested');

    const resubmitted = await a.api.post(q.path(`/items/${itemId}/submit`), {
      annotations: [
        { label: 'rating', value: 'good' },
        { label: 'score', value: 6 },
      ],
    });
    expect(resubmitted.status, JSON.stringify(resubmitted.body)).toBe(200);
    expect(resubmitted.body.round).toBe(2);
    expect(resubmitted.body.item.status).toBe('pending_review');
    expect(resubmitted.body.scores.every((s: { round: number }) => s.round === 2)).toBe(true);

    const after = await itemRow(itemId);
    expect(after.status).toBe('pending_review');
    expect(after.rework_for).toEqual([]);
    expect([...after.submitted_by].sort()).toEqual([a.id, b.id].sort());

    // Round 1 is kept beside round 2; b was not targeted and has only round 1.
    const scores = await scoreRows(itemId);
    const aRounds = scores.filter((s) => s.annotator_id === a.id).map((s) => [s.round, s.value]);
    expect(aRounds).toEqual(
      expect.arrayContaining([
        [1, 'bad'],
        [1, 2],
        [2, 'good'],
        [2, 6],
      ]),
    );
    expect(aRounds).toHaveLength(4);
    expect(scores.filter((s) => s.annotator_id === b.id).map((s) => s.round)).toEqual([1, 1]);

    // Back in review: the reviewer approves and the results use each annotator's latest round.
    expect((await reviewer.api.post(q.path('/next?mode=review'))).body.item.id).toBe(itemId);
    expect((await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' })).status).toBe(200);
    await waitFor(
      () => itemRow(itemId),
      (r) => r.status === 'completed',
    );
    const results = await system
      .db('item_results as r')
      .join('labels as l', 'l.id', 'r.label_id')
      .where('r.item_id', itemId)
      .select('l.key', 'r.value', 'r.method');
    expect(results.find((r) => r.key === 'rating')).toMatchObject({ value: 'good', method: 'majority' });
    expect(results.find((r) => r.key === 'score')).toMatchObject({ value: 7, method: 'mean' });
  });

  it('returns the item to pending_review only when every targeted annotator has resubmitted', async () => {
    const q = await reviewQueue();
    const [a, b] = q.annotators as [Person, Person];
    const reviewer = q.reviewers[0]!;
    const itemId = q.itemIds[0]!;
    await annotate(q, a, itemId, 'bad');
    await annotate(q, b, itemId, 'bad');

    const sentBack = await reviewer.api.post(q.path(`/items/${itemId}/review`), {
      action: 'request_changes',
      targets: [
        { annotatorId: a.id, label: 'rating', comment: 'check the rating' },
        { annotatorId: b.id, comment: 'check everything' },
      ],
    });
    expect(sentBack.status, JSON.stringify(sentBack.body)).toBe(200);
    expect([...(await itemRow(itemId)).rework_for].sort()).toEqual([a.id, b.id].sort());

    expect((await a.api.post(q.path('/next'))).body.item.id).toBe(itemId);
    const aAgain = await a.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] });
    expect(aAgain.status).toBe(200);
    expect(aAgain.body.round).toBe(2);
    expect(aAgain.body.item.status).toBe('changes_requested');
    const halfway = await itemRow(itemId);
    expect(halfway.status).toBe('changes_requested');
    expect(halfway.rework_for).toEqual([b.id]);
    // a already resubmitted: next has nothing more for them.
    expect((await a.api.post(q.path('/next'))).status).toBe(204);

    // Releasing rework keeps it theirs: the item stays sent back and their next offers it again.
    expect((await b.api.post(q.path('/next'))).body.item.id).toBe(itemId);
    expect((await b.api.post(q.path(`/items/${itemId}/release`))).status).toBe(200);
    expect(await itemRow(itemId)).toMatchObject({ status: 'changes_requested', rework_for: [b.id], reserved_by: [] });
    expect((await b.api.post(q.path('/next'))).body.item.id).toBe(itemId);
    const bAgain = await b.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] });
    expect(bAgain.status).toBe(200);
    expect(bAgain.body.item.status).toBe('pending_review');
    expect((await itemRow(itemId)).status).toBe('pending_review');
    const rounds = await system.db('scores').where({ queue_item_id: itemId }).select('annotator_id', 'round');
    expect(rounds).toHaveLength(4);
    expect(
      rounds
        .filter((r) => r.round === 2)
        .map((r) => r.annotator_id)
        .sort(),
    ).toEqual([a.id, b.id].sort());
  });

  it('sends every annotator back when changes are requested without targets', async () => {
    const q = await reviewQueue();
    const [a, b] = q.annotators as [Person, Person];
    const itemId = q.itemIds[0]!;
    await annotate(q, a, itemId, 'bad');
    await annotate(q, b, itemId, 'good');
    const sentBack = await q.reviewers[0]!.api.post(q.path(`/items/${itemId}/review`), { action: 'request_changes', comment: 'both of you, again' });
    expect(sentBack.status).toBe(200);
    const row = await itemRow(itemId);
    expect(row.status).toBe('changes_requested');
    expect([...row.rework_for].sort()).toEqual([a.id, b.id].sort());
  });

  it('refuses targets naming someone who did not annotate the item with 400, changing nothing', async () => {
    const q = await reviewQueue({ annotators: 3 });
    const [a, b, c] = q.annotators as [Person, Person, Person];
    const itemId = q.itemIds[0]!;
    await annotate(q, a, itemId, 'bad');
    await annotate(q, b, itemId, 'good');
    const before = await itemRow(itemId);
    const res = await q.reviewers[0]!.api.post(q.path(`/items/${itemId}/review`), {
      action: 'request_changes',
      targets: [{ annotatorId: c.id, comment: 'you?' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION');
    const unknownLabel = await q.reviewers[0]!.api.post(q.path(`/items/${itemId}/review`), {
      action: 'request_changes',
      targets: [{ annotatorId: a.id, label: 'no-such-label', comment: 'x' }],
    });
    expect(unknownLabel.status).toBe(400);
    const after = await itemRow(itemId);
    expect(after.status).toBe('pending_review');
    expect(after.version).toBe(before.version);
    expect(await system.db('item_events').where({ item_id: itemId, event: 'reviewed' })).toHaveLength(0);
  });

  it('forbids a reviewer who annotated the item from reviewing it: 403 "You cannot review your own annotation."', async () => {
    const q = await reviewQueue({ annotators: 1 });
    const a = q.annotators[0]!;
    const reviewer = q.reviewers[0]!;
    const itemId = q.itemIds[0]!;
    const dual = await createPerson(system, q.admin, 'dual');
    const members = [
      { userId: a.id, roles: ['annotator'] },
      { userId: reviewer.id, roles: ['reviewer'] },
      { userId: dual.id, roles: ['annotator', 'reviewer'] },
    ];
    const patched = await q.admin.patch(q.path(), { members });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);

    await annotate(q, a, itemId, 'good');
    await annotate(q, dual, itemId, 'good');
    expect((await itemRow(itemId)).status).toBe('pending_review');

    // Review work is not offered to them, and a direct review is refused.
    expect((await dual.api.post(q.path('/next?mode=review'))).status).toBe(204);
    for (const action of ['approve', 'request_changes'] as const) {
      const res = await dual.api.post(q.path(`/items/${itemId}/review`), { action });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect(res.body.error.message).toBe('You cannot review your own annotation.');
    }
    const row = await itemRow(itemId);
    expect(row.status).toBe('pending_review');
    expect(await system.db('item_events').where({ item_id: itemId, event: 'reviewed' })).toHaveLength(0);

    // Someone who did not annotate it may.
    expect((await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' })).status).toBe(200);
    await waitFor(
      () => itemRow(itemId),
      (r) => r.status === 'completed',
    );
  });

  it('answers 409 to a review of an item that is not in review (pending, in progress, completed)', async () => {
    const q = await reviewQueue({ items: 2 });
    const [a, b] = q.annotators as [Person, Person];
    const reviewer = q.reviewers[0]!;
    const [pendingId, itemId] = q.itemIds as [string, string];

    const pending = await reviewer.api.post(q.path(`/items/${pendingId}/review`), { action: 'approve' });
    expect(pending.status).toBe(409);
    expect(pending.body.error.code).toBe('CONFLICT');

    await annotate(q, a, itemId, 'good');
    expect((await itemRow(itemId)).status).toBe('in_progress');
    const inProgress = await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'request_changes', comment: 'too early' });
    expect(inProgress.status).toBe(409);
    expect(inProgress.body.error.code).toBe('CONFLICT');
    expect((await itemRow(itemId)).status).toBe('in_progress');

    await annotate(q, b, itemId, 'good');
    expect((await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' })).status).toBe(200);
    await waitFor(
      () => itemRow(itemId),
      (r) => r.status === 'completed',
    );
    const completed = await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' });
    expect(completed.status).toBe(409);
    expect(completed.body.error.code).toBe('CONFLICT');
    expect(await system.db('item_events').where({ item_id: itemId, event: 'reviewed' })).toHaveLength(1);
    expect(await system.db('item_events').where({ item_id: pendingId, event: 'reviewed' })).toHaveLength(0);
  });
});
