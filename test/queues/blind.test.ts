import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPerson, createQueueFixture, waitFor, type Person, type QueueFixture } from '../helpers/queue-fixture.js';
import { startTestSystem, type ApiClient, type TestSystem } from '../helpers/system.js';

/**
 * The blind rule (DESIGN.md §4): a person sees only their own values on an item while they hold,
 * or could still take, a seat on it (managers included); reviewers see everyone's once the item
 * is in review; everyone with access sees them once it is completed.
 */
describe('the blind rule', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  interface Cast {
    q: QueueFixture;
    itemId: string;
    a: Person;
    b: Person;
    c: Person;
    reviewer: Person;
    manager: Person;
    /** Holds both the annotator and the manager role. */
    managerAnnotator: Person;
    /** A member of the workspace who is not in the queue. */
    outsider: ApiClient;
  }

  async function cast(): Promise<Cast> {
    const q = await createQueueFixture(system, { annotators: 3, reviewers: 1, managers: 1, annotationsRequired: 3, requiresReview: true, items: 1 });
    const [a, b, c] = q.annotators as [Person, Person, Person];
    const reviewer = q.reviewers[0]!;
    const manager = q.managers[0]!;
    const managerAnnotator = await createPerson(system, q.admin, 'boss');
    const outsider = await createPerson(system, q.admin, 'outsider');
    const patched = await q.admin.patch(q.path(), {
      members: [
        ...[a, b, c].map((p) => ({ userId: p.id, roles: ['annotator'] })),
        { userId: reviewer.id, roles: ['reviewer'] },
        { userId: manager.id, roles: ['manager'] },
        { userId: managerAnnotator.id, roles: ['annotator', 'manager'] },
      ],
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    return { q, itemId: q.itemIds[0]!, a, b, c, reviewer, manager, managerAnnotator, outsider: outsider.api };
  }

  async function annotate(q: QueueFixture, person: Person, itemId: string, rating: string, score: number) {
    expect((await person.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    const res = await person.api.post(q.path(`/items/${itemId}/submit`), {
      annotations: [
        { label: 'rating', value: rating },
        { label: 'score', value: score },
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }

  interface Seen {
    /** Annotator ids of the values in GET …/items/{itemId} `annotations`, one per score. */
    detail: string[];
    /** Same, from GET /api/v1/scores?queueId=…. */
    scores: string[];
    /** Same, from GET /api/v1/scores without a queue filter, restricted to this item. */
    workspaceScores: string[];
  }

  async function seenBy(cast: Cast, api: ApiClient): Promise<Seen> {
    const detail = await api.get(cast.q.path(`/items/${cast.itemId}`));
    expect(detail.status, JSON.stringify(detail.body)).toBe(200);
    const scores = await api.get(`/api/v1/scores?queueId=${cast.q.queueId}&limit=500`);
    expect(scores.status).toBe(200);
    const all = await api.get('/api/v1/scores?limit=500');
    expect(all.status).toBe(200);
    const ids = (rows: { annotatorId: string; queueItemId: string | null }[]) =>
      rows
        .filter((r) => r.queueItemId === cast.itemId)
        .map((r) => r.annotatorId)
        .sort();
    return { detail: ids(detail.body.annotations), scores: ids(scores.body.data), workspaceScores: ids(all.body.data) };
  }

  /** Two scores (rating and score) per annotator. */
  const twice = (...ids: string[]) => ids.flatMap((id) => [id, id]).sort();
  const same = (ids: string[]): Seen => ({ detail: ids, scores: ids, workspaceScores: ids });

  it('shows an annotator only their own values while the item is open, and hides them from those who could still take a seat', async () => {
    const k = await cast();
    await annotate(k.q, k.a, k.itemId, 'good', 3.25);
    await annotate(k.q, k.b, k.itemId, 'bad', 7.75);
    expect((await system.db('queue_items').where({ id: k.itemId }).first()).status).toBe('in_progress');

    expect(await seenBy(k, k.a.api)).toEqual(same(twice(k.a.id)));
    expect(await seenBy(k, k.b.api)).toEqual(same(twice(k.b.id)));
    // c has no seat yet but could take the open one: sees nothing.
    expect(await seenBy(k, k.c.api)).toEqual(same([]));
    // Filtering by another annotator does not get around the rule.
    const filtered = await k.a.api.get(`/api/v1/scores?queueId=${k.q.queueId}&annotatorId=${k.b.id}`);
    expect(filtered.status).toBe(200);
    expect(filtered.body.data).toEqual([]);
    // Results are not shown before the item is completed.
    expect((await k.a.api.get(k.q.path(`/items/${k.itemId}`))).body.results).toEqual([]);

    // An annotator holding a live reservation (not yet submitted) sees none of the others' values.
    expect((await k.c.api.post(k.q.path(`/items/${k.itemId}/reserve`))).status).toBe(200);
    const reserved = await k.c.api.get(k.q.path(`/items/${k.itemId}`));
    expect(reserved.body.annotations).toEqual([]);
    expect(reserved.body.reservation).not.toBeNull();
  });

  it('shows a manager who also holds an annotator seat only their own values, and a manager without a seat everything', async () => {
    const k = await cast();
    await annotate(k.q, k.a, k.itemId, 'good', 3.25);
    await annotate(k.q, k.b, k.itemId, 'bad', 7.75);

    // The manager-annotator could still take the open seat: blind, like any annotator.
    expect(await seenBy(k, k.managerAnnotator.api)).toEqual(same([]));
    // A manager without an annotator role, and a workspace admin, see every value.
    expect(await seenBy(k, k.manager.api)).toEqual(same(twice(k.a.id, k.b.id)));
    expect(await seenBy(k, k.q.admin)).toEqual(same(twice(k.a.id, k.b.id)));

    // Holding the seat (reserved, then submitted), the manager-annotator still sees only their own.
    expect((await k.managerAnnotator.api.post(k.q.path(`/items/${k.itemId}/reserve`))).status).toBe(200);
    expect(await seenBy(k, k.managerAnnotator.api)).toEqual(same([]));
    const submitted = await k.managerAnnotator.api.post(k.q.path(`/items/${k.itemId}/submit`), {
      annotations: [
        { label: 'rating', value: 'good' },
        { label: 'score', value: 1.5 },
      ],
    });
    expect(submitted.status).toBe(200);
    expect((await system.db('queue_items').where({ id: k.itemId }).first()).status).toBe('pending_review');
    expect(await seenBy(k, k.managerAnnotator.api)).toEqual(same(twice(k.managerAnnotator.id)));
    expect(await seenBy(k, k.manager.api)).toEqual(same(twice(k.a.id, k.b.id, k.managerAnnotator.id)));
  });

  it("shows a reviewer everyone's values once the item is in review, and not before", async () => {
    const k = await cast();
    await annotate(k.q, k.a, k.itemId, 'good', 3.25);
    await annotate(k.q, k.b, k.itemId, 'bad', 7.75);
    expect(await seenBy(k, k.reviewer.api)).toEqual(same([]));

    await annotate(k.q, k.c, k.itemId, 'good', 5);
    expect((await system.db('queue_items').where({ id: k.itemId }).first()).status).toBe('pending_review');
    const everyone = twice(k.a.id, k.b.id, k.c.id);
    expect(await seenBy(k, k.reviewer.api)).toEqual(same(everyone));
    const forReview = await k.reviewer.api.post(k.q.path('/next?mode=review'));
    expect(forReview.status).toBe(200);
    expect(forReview.body.annotations.map((s: { annotatorId: string }) => s.annotatorId).sort()).toEqual(everyone);

    // Annotators who hold seats stay blind while the item is in review.
    expect(await seenBy(k, k.a.api)).toEqual(same(twice(k.a.id)));
    expect(await seenBy(k, k.c.api)).toEqual(same(twice(k.c.id)));

    // While changes are requested the reviewer keeps seeing them; the reworking annotator does not.
    const sentBack = await k.reviewer.api.post(k.q.path(`/items/${k.itemId}/review`), {
      action: 'request_changes',
      targets: [{ annotatorId: k.a.id, comment: 'again' }],
    });
    expect(sentBack.status).toBe(200);
    expect(await seenBy(k, k.reviewer.api)).toEqual(same(everyone));
    expect(await seenBy(k, k.a.api)).toEqual(same(twice(k.a.id)));
    expect(await seenBy(k, k.b.api)).toEqual(same(twice(k.b.id)));
  });

  it('shows everyone with access every value once the item is completed', async () => {
    const k = await cast();
    await annotate(k.q, k.a, k.itemId, 'good', 3.25);
    await annotate(k.q, k.b, k.itemId, 'bad', 7.75);
    await annotate(k.q, k.managerAnnotator, k.itemId, 'good', 5);
    expect((await k.reviewer.api.post(k.q.path(`/items/${k.itemId}/review`), { action: 'approve' })).status).toBe(200);
    await waitFor(
      () => system.db('queue_items').where({ id: k.itemId }).first(),
      (r) => r.status === 'completed',
    );

    const everyone = same(twice(k.a.id, k.b.id, k.managerAnnotator.id));
    for (const person of [k.a, k.b, k.c, k.reviewer, k.manager, k.managerAnnotator]) {
      expect(await seenBy(k, person.api), person.id).toEqual(everyone);
    }
    expect(await seenBy(k, k.q.admin)).toEqual(everyone);
    const detail = await k.c.api.get(k.q.path(`/items/${k.itemId}`));
    expect(detail.body.results.length).toBe(2);
  });

  it('shows a workspace member outside the queue no values of an open item, and no item at all', async () => {
    const k = await cast();
    await annotate(k.q, k.a, k.itemId, 'good', 3.25);
    const scores = await k.outsider.get(`/api/v1/scores?queueId=${k.q.queueId}`);
    expect(scores.status).toBe(200);
    expect(scores.body.data).toEqual([]);
    expect((await k.outsider.get(k.q.path(`/items/${k.itemId}`))).status).toBe(404);
  });

  it('never puts values in GET …/progress (nor the item list or timeline), whoever asks and whatever the item status', async () => {
    const k = await cast();
    await annotate(k.q, k.a, k.itemId, 'good', 3.25);
    await annotate(k.q, k.b, k.itemId, 'bad', 7.75);

    const check = async (api: ApiClient) => {
      const res = await api.get(k.q.path('/progress'));
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['annotators', 'byStatus', 'mine', 'total']);
      const rowKeys = ['annotatorId', 'assigned', 'expired', 'lastActiveAt', 'reserved', 'skipped', 'submitted'];
      for (const row of [...res.body.annotators, res.body.mine]) expect(Object.keys(row).sort()).toEqual(rowKeys);
      const text = JSON.stringify(res.body);
      for (const value of ['good', 'bad', '3.25', '7.75', 'rating', 'value']) expect(text).not.toContain(value);
      return res.body;
    };
    // Nor do the item list and the item's timeline.
    for (const path of ['/items', `/items/${k.itemId}/history`]) {
      const res = await k.c.api.get(k.q.path(path));
      expect(res.status).toBe(200);
      const text = JSON.stringify(res.body);
      for (const value of ['good', 'bad', '3.25', '7.75']) expect(text).not.toContain(value);
    }
    const mine = await check(k.a.api);
    expect(mine.mine).toMatchObject({ annotatorId: k.a.id, submitted: 1 });
    expect(mine.total).toBe(1);
    await check(k.c.api);
    await check(k.manager.api);
    await check(k.reviewer.api);

    await annotate(k.q, k.c, k.itemId, 'good', 5);
    expect((await k.reviewer.api.post(k.q.path(`/items/${k.itemId}/review`), { action: 'approve' })).status).toBe(200);
    await waitFor(
      () => system.db('queue_items').where({ id: k.itemId }).first(),
      (r) => r.status === 'completed',
    );
    const done = await check(k.a.api);
    expect(done.byStatus).toEqual({ completed: 1 });
  });
});
