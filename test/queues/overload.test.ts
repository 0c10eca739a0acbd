import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionLimits, DEFAULT_ADMISSION } from '../../domain/admission.js';
import type { ItemState } from '../../domain/item.js';
import { stateQuery } from '../../workflows/definitions.js';
import { createPersistGate } from '../helpers/persist-gate.js';
import { createQueueFixture } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/**
 * Load and deadlines (DESIGN.md §4): load is shed before an update is sent, with a quick 429 and
 * Retry-After; an update that was sent is awaited until it is durable, and one accepted but not yet
 * durable at the request deadline answers 202: the same request again, with the same Idempotency-Key,
 * gets the final answer.
 */
describe('an item under load', () => {
  let system: TestSystem;
  const gate = createPersistGate();

  beforeAll(async () => {
    system = await startTestSystem({ worker: false, requestDeadlineMs: 1500 });
    await system.startWorker({ wrapActivities: gate.wrap });
  });
  afterAll(async () => system?.close());

  /** Holds the write of this annotator's next reservation. */
  const holdNextReservationOf = (annotatorId: string) => gate.hold((input) => input.events.some((e) => e.event === 'reserved' && e.actorId === annotatorId));

  it('answers 202 to a reserve accepted but not yet durable at the deadline, and the final answer to the same request again', async () => {
    const q = await createQueueFixture(system, { annotators: 1, items: 1 });
    const [a] = q.annotators;
    const itemId = q.itemIds[0]!;
    const gate = holdNextReservationOf(a!.id);
    const first = a!.api.post(q.path(`/items/${itemId}/reserve`), undefined, { 'idempotency-key': 'open-1' });
    await gate.atGate;
    const accepted = await first;
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ status: 'accepted', updateId: `reserve:${a!.id}:open-1` });

    gate.release();
    const final = await a!.api.post(q.path(`/items/${itemId}/reserve`), undefined, { 'idempotency-key': 'open-1' });
    expect(final.status).toBe(200);
    expect(final.body.item.id).toBe(itemId);
    const state = await system.temporal.client.workflow.getHandle(`item-${itemId}`).query<ItemState>(stateQuery);
    const seat = state.seats[a!.id];
    expect(seat?.state).toBe('reserved');
    expect(final.body.reservation.expiresAt).toBe(new Date((seat as { deadline: number }).deadline).toISOString());
    // One reservation happened, not two.
    expect(await system.db('item_events').where({ item_id: itemId, event: 'reserved' }).count({ n: '*' }).first()).toEqual({ n: 1 });
  });

  it('refuses with a quick 429 and Retry-After, sending nothing, when the item already has its limit of updates in flight', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const [a, b] = q.annotators;
    const itemId = q.itemIds[0]!;
    const original = system.temporal.admission;
    system.temporal.admission = new AdmissionLimits(DEFAULT_ADMISSION.maxInFlight, 1);
    try {
      const gate = holdNextReservationOf(a!.id);
      const first = a!.api.post(q.path(`/items/${itemId}/reserve`));
      await gate.atGate;
      const refused = await b!.api.post(q.path(`/items/${itemId}/reserve`));
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('RATE_LIMITED');
      expect(refused.headers.get('retry-after')).toBe('1');
      const state = await system.temporal.client.workflow.getHandle(`item-${itemId}`).query<ItemState>(stateQuery);
      expect(state.seats[b!.id], 'the refused reserve never reached the workflow').toBeUndefined();
      gate.release();
      expect((await first).status).toBe(200);
      // Once the first is through, the same call is taken.
      expect((await b!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    } finally {
      system.temporal.admission = original;
    }
  });
});
