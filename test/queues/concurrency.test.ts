import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemState } from '../../domain/item.js';
import { createQueueFixture, waitFor } from '../helpers/queue-fixture.js';
import { startTestSystem, type HttpResult, type TestSystem } from '../helpers/system.js';

/**
 * Seats under contention (DESIGN.md §4): the workflow's update validator is the only arbiter; there
 * is no lock in the API. Whatever the interleaving, submissions + live reservations ≤ seats.
 */
describe('seats under concurrent requests', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  const workflowState = (itemId: string) => system.temporal.client.workflow.getHandle(`item-${itemId}`).query<ItemState>('state');
  const reservedInWorkflow = (state: ItemState) =>
    Object.values(state.seats)
      .filter((s) => s.state === 'reserved')
      .map((s) => s.annotatorId)
      .sort();
  /**
   * A client that honours Retry-After (DESIGN.md §4: load is shed with a quick 429 before an update is
   * sent): every 429 must carry the header, and the caller ends with a real answer.
   */
  async function honouringRetryAfter(call: () => Promise<HttpResult>): Promise<HttpResult> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const result = await call();
      if (result.status !== 429) return result;
      const retryAfter = Number(result.headers.get('retry-after'));
      expect(retryAfter, '429 carries Retry-After').toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, retryAfter * 1000 * (0.5 + Math.random())));
    }
    throw new Error('still refused after 20 attempts');
  }
  const statuses = (results: HttpResult[]) => results.map((r) => r.status).sort((a, b) => a - b);
  const rateLimited = (results: HttpResult[]) => results.filter((r) => r.status === 429).map((r) => r.body);
  const serverErrors = (results: HttpResult[]) => results.filter((r) => r.status >= 500).map((r) => ({ status: r.status, body: r.body }));
  /** The lease the workflow holds for `annotatorId`, as the API writes it. */
  const leaseOf = (state: ItemState, annotatorId: string) => {
    const seat = state.seats[annotatorId];
    return seat && 'deadline' in seat && seat.deadline !== null ? new Date(seat.deadline).toISOString() : null;
  };

  it('20 concurrent next calls on 3 items needing 2 annotators each hand out exactly 6 seats, 2 per item, never one twice', async () => {
    const q = await createQueueFixture(system, { annotators: 20, annotationsRequired: 2, items: 3 });

    const results = await Promise.all(q.annotators.map((a) => honouringRetryAfter(() => a.api.post(q.path('/next')))));

    expect(serverErrors(results), 'no request fails with a 5xx').toEqual([]);
    expect(rateLimited(results), 'a caller honouring Retry-After gets a real answer').toEqual([]);
    expect(statuses(results)).toEqual([...Array(6).fill(200), ...Array(14).fill(204)]);

    const winners = results.flatMap((r, i) =>
      r.status === 200 ? [{ annotatorId: q.annotators[i]!.id, itemId: r.body.item.id as string, expiresAt: r.body.reservation?.expiresAt ?? null }] : [],
    );
    const pairs = winners.map((w) => `${w.itemId}:${w.annotatorId}`);
    expect(new Set(pairs).size).toBe(pairs.length);
    const winnersOf = (itemId: string) =>
      winners
        .filter((w) => w.itemId === itemId)
        .map((w) => w.annotatorId)
        .sort();

    for (const itemId of q.itemIds) {
      expect(winnersOf(itemId), `item ${itemId} went to exactly 2 callers`).toHaveLength(2);

      const state = await workflowState(itemId);
      expect(Object.keys(state.seats)).toHaveLength(2);
      expect(reservedInWorkflow(state), 'the workflow holds exactly the callers that got the item').toEqual(winnersOf(itemId));

      const row = await system.db('queue_items').where({ id: itemId }).first();
      expect([...row.reserved_by].sort(), 'the read model (queue_items.reserved_by) agrees with the workflow').toEqual(winnersOf(itemId));
      expect(row.seats_occupied).toBe(2);
      expect(row.status).toBe('in_progress');

      const reservedEvents = await system.db('item_events').where({ item_id: itemId, event: 'reserved' }).select('actor_id');
      expect(reservedEvents.map((e) => e.actor_id).sort(), 'the timeline records only the reservations that happened').toEqual(winnersOf(itemId));

      // Each caller was told the reservation it really holds.
      for (const w of winners.filter((x) => x.itemId === itemId)) {
        expect(w.expiresAt, `reservation in the 200 answer to ${w.annotatorId}`).toBe(leaseOf(state, w.annotatorId));
      }
    }

    // The 14 who got nothing really hold nothing anywhere.
    const losers = q.annotators.filter((_, i) => results[i]!.status === 204).map((a) => a.id);
    expect(losers).toHaveLength(14);
    const rows = await system.db('queue_items').whereIn('id', q.itemIds).select('reserved_by', 'assigned_to');
    for (const row of rows) {
      expect([...row.reserved_by, ...row.assigned_to].filter((id: string) => losers.includes(id))).toEqual([]);
    }
  });

  it('20 concurrent reserves of one item with 2 seats: exactly 2 succeed, 18 get 409 CONFLICT, and only the 2 winners hold seats', async () => {
    const q = await createQueueFixture(system, { annotators: 20, annotationsRequired: 2, items: 1 });
    const itemId = q.itemIds[0]!;

    const results = await Promise.all(q.annotators.map((a) => honouringRetryAfter(() => a.api.post(q.path(`/items/${itemId}/reserve`)))));

    expect(serverErrors(results), 'no request fails with a 5xx').toEqual([]);
    expect(rateLimited(results), 'a caller honouring Retry-After gets a real answer').toEqual([]);
    expect(statuses(results)).toEqual([200, 200, ...Array(18).fill(409)]);
    for (const r of results.filter((x) => x.status === 409)) {
      expect(r.body.error.code).toBe('CONFLICT');
      expect(r.body.error.message).toMatch(/seat/i);
    }
    const winners = q.annotators
      .filter((_, i) => results[i]!.status === 200)
      .map((a) => a.id)
      .sort();

    const state = await workflowState(itemId);
    expect(Object.keys(state.seats)).toHaveLength(2);
    expect(reservedInWorkflow(state), 'the workflow holds exactly the 2 callers that got 200').toEqual(winners);

    const row = await system.db('queue_items').where({ id: itemId }).first();
    expect([...row.reserved_by].sort(), 'the read model (queue_items.reserved_by) agrees with the workflow').toEqual(winners);
    expect(row.seats_occupied).toBe(2);

    const events = await system.db('item_events').where({ item_id: itemId, event: 'reserved' }).select('actor_id');
    expect(events.map((e) => e.actor_id).sort(), 'the timeline records only the reservations that happened').toEqual(winners);

    // Each winner was told the reservation it really holds.
    for (const [i, r] of results.entries()) {
      if (r.status !== 200) continue;
      const who = q.annotators[i]!.id;
      expect(r.body.item.id).toBe(itemId);
      expect(r.body.reservation?.expiresAt ?? null, `reservation in the 200 answer to ${who}`).toBe(leaseOf(state, who));
    }

    // The losers cannot take a seat afterwards either: it is really full.
    const late = await q.annotators.find((a) => !winners.includes(a.id))!.api.post(q.path(`/items/${itemId}/reserve`));
    expect(late.status).toBe(409);
  });

  it('concurrent reserves of one item by the same annotator (a double click) all answer with the one reservation they hold', async () => {
    const q = await createQueueFixture(system, { annotators: 1, annotationsRequired: 1, items: 6 });
    const [a] = q.annotators;
    // Every workflow has written its first snapshot, so only the reserves race each other.
    await waitFor(
      () => system.db('item_events').whereIn('item_id', q.itemIds).where({ event: 'created' }),
      (rows) => rows.length === q.itemIds.length,
    );

    const results = await Promise.all(q.itemIds.map((itemId) => Promise.all(Array.from({ length: 3 }, () => a!.api.post(q.path(`/items/${itemId}/reserve`))))));

    for (const [i, itemId] of q.itemIds.entries()) {
      const state = await workflowState(itemId);
      expect(Object.keys(state.seats)).toEqual([a!.id]);
      const held = leaseOf(state, a!.id);
      const row = await system.db('queue_items').where({ id: itemId }).first();
      expect(row.reserved_by, 'the read model agrees with the workflow').toEqual([a!.id]);
      expect(row.seats[0].expiresAt).toBe(held);
      expect(await system.db('item_events').where({ item_id: itemId, event: 'reserved' }), 'one reservation in the timeline').toHaveLength(1);
      // Each answer is a 200 that shows the reservation the caller really holds (not a read of the item from before it).
      expect(
        results[i]!.map((r) => [r.status, r.body.reservation?.expiresAt ?? null, r.body.item?.status]),
        `answers for item ${itemId}`,
      ).toEqual(Array(3).fill([200, held, 'in_progress']));
    }
  });
});
