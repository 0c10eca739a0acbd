import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueFixture, waitFor } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/**
 * Assignment strategies (DESIGN.md §4): round_robin and load_balanced hand each open seat to an
 * annotator through a turn claimed under the queue row's lock; an unstarted assignment lapses and
 * is reassigned; managers pin items to people by hand.
 */
describe('assignment of seats to annotators', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  const rows = (itemIds: string[]) =>
    system.db('queue_items').whereIn('id', itemIds).select('id', 'assigned_to', 'reserved_by', 'status') as Promise<
      { id: string; assigned_to: string[]; reserved_by: string[]; status: string }[]
    >;
  const countBy = (values: string[]) => values.reduce<Record<string, number>>((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {});
  /** Waits until every item has exactly one assignee in the read model; returns itemId → assignee. */
  const settledAssignees = async (itemIds: string[]) => {
    const settled = await waitFor(
      () => rows(itemIds),
      (rs) => rs.length === itemIds.length && rs.every((r) => r.assigned_to.length === 1),
      30_000,
    );
    return new Map(settled.map((r) => [r.id, r.assigned_to[0]!]));
  };

  it('round_robin spreads 30 items added by 6 concurrent requests evenly: 10 per annotator, and next serves each their own', async () => {
    const q = await createQueueFixture(system, { annotators: 3, annotationsRequired: 1, assignmentStrategy: 'round_robin', items: 0 });

    const batches = await Promise.all(Array.from({ length: 6 }, () => q.addItems(5)));
    const itemIds = batches.flat();
    expect(new Set(itemIds).size).toBe(30);

    const assignees = await settledAssignees(itemIds);
    const annotatorIds = q.annotators.map((a) => a.id).sort();
    const counts = countBy([...assignees.values()]);
    expect(Object.keys(counts).sort()).toEqual(annotatorIds);
    for (const id of annotatorIds) expect(counts[id]).toBe(10);

    // One rotation turn per item, none handed out twice.
    const turns = await system.db('assignment_turns').whereIn('item_id', itemIds).select('item_id', 'turn', 'annotator_id');
    expect(turns).toHaveLength(30);
    expect(turns.every((t) => t.turn === 1 && t.annotator_id === assignees.get(t.item_id))).toBe(true);
    const assignedEvents = await system.db('item_events').whereIn('item_id', itemIds).where({ event: 'assigned' }).select('item_id');
    expect(assignedEvents).toHaveLength(30);

    // Every seat is taken by an assignment: next serves each annotator one of their own items.
    for (const a of q.annotators) {
      const mine = [...assignees].filter(([, who]) => who === a.id).map(([itemId]) => itemId);
      const next = await a.api.post(q.path('/next'));
      expect(next.status).toBe(200);
      expect(mine).toContain(next.body.item.id);
      const row = (await rows([next.body.item.id]))[0]!;
      expect(row.reserved_by).toEqual([a.id]);
      expect(row.assigned_to).toEqual([]);
    }
  });

  it('load_balanced gives each new seat to the annotator with the fewest open assignments', async () => {
    const q = await createQueueFixture(system, { annotators: 3, annotationsRequired: 1, assignmentStrategy: 'load_balanced', items: 0 });
    const [busy, ...idle] = q.annotators;
    const members = (people: typeof q.annotators) => people.map((p) => ({ userId: p.id, roles: ['annotator'] }));

    // Only one annotator at first: they get three open assignments.
    expect((await q.admin.patch(q.path(), { members: members([busy!]) })).status).toBe(200);
    const early = await q.addItems(3);
    const earlyAssignees = await settledAssignees(early);
    expect([...earlyAssignees.values()]).toEqual([busy!.id, busy!.id, busy!.id]);

    // Two more join; four new items all go to the two with no load, two each, none to the busy one.
    expect((await q.admin.patch(q.path(), { members: members(q.annotators) })).status).toBe(200);
    const late = await q.addItems(4);
    const lateAssignees = await settledAssignees(late);
    const counts = countBy([...lateAssignees.values()]);
    expect(counts[busy!.id]).toBeUndefined();
    for (const p of idle) expect(counts[p.id]).toBe(2);

    // The busy annotator's items stayed with them.
    expect(await settledAssignees(early)).toEqual(earlyAssignees);
  });

  it('reassigns an assignment nobody started within the reservation timeout to another annotator', async () => {
    // 3 s rather than 2, so that each assignee is still visible in the read model on a loaded machine.
    const q = await createQueueFixture(system, {
      annotators: 2,
      annotationsRequired: 1,
      assignmentStrategy: 'round_robin',
      reservationTimeoutSeconds: 3,
      items: 1,
    });
    const itemId = q.itemIds[0]!;
    const annotatorIds = q.annotators.map((a) => a.id);

    const firstTurn = await waitFor(
      () => system.db('assignment_turns').where({ item_id: itemId, turn: 1 }).first(),
      (t) => t !== undefined,
    );
    const first: string = firstTurn.annotator_id;
    expect(annotatorIds).toContain(first);

    const second = await waitFor(
      () => rows([itemId]),
      (rs) => rs[0]!.assigned_to.length === 1 && rs[0]!.assigned_to[0] !== first,
      15_000,
    );
    const reassignedTo = second[0]!.assigned_to[0]!;
    expect(annotatorIds).toContain(reassignedTo);
    expect(reassignedTo).not.toBe(first);

    const history = await q.admin.get(q.path(`/items/${itemId}/history`));
    expect(history.status).toBe(200);
    const timeline = history.body.data as { event: string; actorId: string | null; details: { annotatorId?: string } }[];
    const lapse = timeline.findIndex((e) => e.event === 'assignment_expired' && e.actorId === first);
    expect(lapse).toBeGreaterThan(-1);
    const reassign = timeline.findIndex((e) => e.event === 'assigned' && e.details.annotatorId === reassignedTo);
    expect(reassign).toBeGreaterThan(lapse);
    expect(timeline.findIndex((e) => e.event === 'assigned' && e.details.annotatorId === first)).toBeLessThan(lapse);

    const turns = await system.db('assignment_turns').where({ item_id: itemId }).orderBy('turn').select('turn', 'annotator_id');
    expect(turns.slice(0, 2)).toEqual([
      { turn: 1, annotator_id: first },
      { turn: 2, annotator_id: reassignedTo },
    ]);

    // The new assignee can take it up straight away.
    const taker = q.annotators.find((a) => a.id === reassignedTo)!;
    const next = await taker.api.post(q.path('/next'));
    expect(next.status).toBe(200);
    expect(next.body.item.id).toBe(itemId);
  });

  it("a manual pin puts the item first in that annotator's next, ahead of higher-priority items, and keeps others off it", async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 1, items: 2 });
    const [a, b] = q.annotators;
    const urgent = (await q.addItems(1, 100))[0]!;
    const pinned = [...q.itemIds].sort().at(-1)!;

    const assigned = await q.admin.post(q.path('/items/assign'), { itemIds: [pinned], userIds: [a!.id], action: 'add' });
    expect(assigned.status).toBe(200);
    expect(assigned.body.results).toEqual([{ itemId: pinned, added: [a!.id], removed: [] }]);
    expect(assigned.body.errors).toEqual([]);
    expect((await rows([pinned]))[0]!.assigned_to).toEqual([a!.id]);
    const history = await q.admin.get(q.path(`/items/${pinned}/history`));
    expect(history.body.data.map((e: { event: string }) => e.event)).toContain('assigned');

    // The other annotator is offered the urgent item, never the one pinned to a.
    const other = await b!.api.post(q.path('/next'));
    expect(other.status).toBe(200);
    expect(other.body.item.id).toBe(urgent);

    const mine = await a!.api.post(q.path('/next'));
    expect(mine.status).toBe(200);
    expect(mine.body.item.id).toBe(pinned);
    const row = (await rows([pinned]))[0]!;
    expect(row.reserved_by).toEqual([a!.id]);
    expect(row.assigned_to).toEqual([]);
  });
});
