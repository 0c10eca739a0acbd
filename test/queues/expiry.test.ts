import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueFixture, waitFor } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Leases (DESIGN.md §4): they end by expiry, heartbeat, release or skip; expiry is a durable workflow timer. */
describe('reservation leases: expiry, heartbeat, release and skip', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  const events = async (itemId: string) =>
    system.db('item_events').where({ item_id: itemId }).orderBy('id').select<{ event: string; actor_id: string | null }[]>('event', 'actor_id');
  const itemRow = (itemId: string) => system.db('queue_items').where({ id: itemId }).first();
  const waitForEvent = (itemId: string, event: string, actorId: string | null, timeoutMs = 20_000) =>
    waitFor(
      () => events(itemId),
      (es) => es.some((e) => e.event === event && e.actor_id === actorId),
      timeoutMs,
    );
  /** The workflow has written its first snapshot (tests that compare whole timelines start from there). */
  const created = (itemId: string) => waitForEvent(itemId, 'created', null);
  /** The lease deadline of `annotatorId` as the read model holds it. */
  const leaseEnd = async (itemId: string, annotatorId: string) => {
    const seat = (await itemRow(itemId)).seats.find((s: { annotatorId: string }) => s.annotatorId === annotatorId);
    expect(seat?.state).toBe('reserved');
    return Date.parse(seat.expiresAt);
  };

  it('frees an expired reservation so the next annotator gets the seat, and records an expired event', async () => {
    // 3 s rather than 2: on a loaded machine the first reservation's round trip alone can take 2 s.
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 1, reservationTimeoutSeconds: 3, items: 1 });
    const [a, b] = q.annotators;
    const itemId = q.itemIds[0]!;
    await created(itemId);

    const before = Date.now();
    const first = await a!.api.post(q.path('/next'));
    expect(first.status).toBe(200);
    expect(first.body.item.id).toBe(itemId);
    const expiresAt = await leaseEnd(itemId, a!.id);
    expect(first.body.reservation?.expiresAt).toBe(new Date(expiresAt).toISOString());
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3000 - 100);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3000);

    // While the only seat is held, nobody else gets it.
    expect((await b!.api.post(q.path('/next'))).status).toBe(204);
    expect(Date.now(), 'the 204 must have been answered before the lease ended').toBeLessThan(expiresAt);

    await waitForEvent(itemId, 'expired', a!.id);
    const freed = await itemRow(itemId);
    expect(freed.reserved_by).toEqual([]);
    expect(freed.seats_occupied).toBe(0);
    expect(freed.status).toBe('pending');

    const second = await b!.api.post(q.path('/next'));
    expect(second.status).toBe(200);
    expect(second.body.item.id).toBe(itemId);
    expect((await itemRow(itemId)).reserved_by).toEqual([b!.id]);

    const history = await q.admin.get(q.path(`/items/${itemId}/history`));
    expect(history.status).toBe(200);
    expect(history.body.data.map((e: { event: string; actorId: string | null }) => `${e.event}:${e.actorId}`)).toEqual([
      'created:null',
      `reserved:${a!.id}`,
      `expired:${a!.id}`,
      `reserved:${b!.id}`,
    ]);
  });

  it('frees a reservation whose deadline passed while the worker was down, once the worker is back', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 1, reservationTimeoutSeconds: 3, items: 1 });
    const [a, b] = q.annotators;
    const itemId = q.itemIds[0]!;

    const first = await a!.api.post(q.path('/next'));
    expect(first.status).toBe(200);
    expect(first.body.item.id).toBe(itemId);
    const expiresAt = await leaseEnd(itemId, a!.id);
    expect(Date.now(), 'the worker must stop before the deadline for this test to mean anything').toBeLessThan(expiresAt);

    await system.stopWorker();
    try {
      await sleep(Math.max(0, expiresAt - Date.now()) + 1500);
      // Nobody ran the timer: the read model still shows the stale reservation.
      expect((await itemRow(itemId)).reserved_by).toEqual([a!.id]);
      expect((await events(itemId)).map((e) => e.event)).not.toContain('expired');
    } finally {
      await system.startWorker();
    }

    await waitForEvent(itemId, 'expired', a!.id, 30_000);
    expect((await itemRow(itemId)).reserved_by).toEqual([]);

    const second = await b!.api.post(q.path('/next'));
    expect(second.status).toBe(200);
    expect(second.body.item.id).toBe(itemId);
    expect((await itemRow(itemId)).reserved_by).toEqual([b!.id]);
  });

  it('refuses a submit on an expired reservation with 409 and writes no score', async () => {
    const q = await createQueueFixture(system, { annotators: 1, annotationsRequired: 1, reservationTimeoutSeconds: 2, items: 1 });
    const [a] = q.annotators;
    const itemId = q.itemIds[0]!;

    const reserved = await a!.api.post(q.path(`/items/${itemId}/reserve`));
    expect(reserved.status).toBe(200);
    await sleep(Math.max(0, (await leaseEnd(itemId, a!.id)) - Date.now()) + 300);

    const submit = await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] });
    expect(submit.status).toBe(409);
    expect(submit.body.error.code).toBe('CONFLICT');
    expect(submit.body.error.message).toMatch(/expired|reserve/i);

    expect(await system.db('scores').where({ queue_item_id: itemId })).toEqual([]);
    expect(await system.db('submissions').where({ item_id: itemId })).toEqual([]);
    const row = await itemRow(itemId);
    expect(row.submitted_by).toEqual([]);
    expect(row.status).not.toBe('completed');
    expect((await events(itemId)).map((e) => e.event)).not.toContain('submitted');
  });

  it('extends a lease on heartbeat only when less than half of it is left, and refuses a heartbeat after release', async () => {
    // A 6 s lease, so that "more than half left" is still true after a slow first round trip.
    const lease = 6000;
    const q = await createQueueFixture(system, { annotators: 1, annotationsRequired: 1, reservationTimeoutSeconds: lease / 1000, items: 1 });
    const [a] = q.annotators;
    const itemId = q.itemIds[0]!;
    const heartbeat = () => a!.api.post(q.path(`/items/${itemId}/heartbeat`));

    const reserved = await a!.api.post(q.path(`/items/${itemId}/reserve`));
    expect(reserved.status).toBe(200);
    const original = new Date(await leaseEnd(itemId, a!.id)).toISOString();
    expect(reserved.body.reservation?.expiresAt).toBe(original);

    // More than half of the lease left: the heartbeat answers the same deadline and writes nothing.
    expect(Date.parse(original) - Date.now(), 'precondition: more than half of the lease left').toBeGreaterThan(lease / 2 + 200);
    const early = await heartbeat();
    expect(early.status).toBe(200);
    expect(early.body.reservation.expiresAt).toBe(original);
    expect((await events(itemId)).map((e) => e.event)).not.toContain('heartbeat_extended');

    // Less than half left: extended to a full lease from now.
    await sleep(Math.max(0, Date.parse(original) - Date.now() - lease / 4));
    const before = Date.now();
    const late = await heartbeat();
    expect(late.status).toBe(200);
    const extended = Date.parse(late.body.reservation.expiresAt);
    expect(extended).toBeGreaterThan(Date.parse(original));
    expect(extended).toBeGreaterThanOrEqual(before + lease - 100);
    expect(extended).toBeLessThanOrEqual(Date.now() + lease);
    expect((await events(itemId)).filter((e) => e.event === 'heartbeat_extended')).toHaveLength(1);
    expect(await leaseEnd(itemId, a!.id)).toBe(extended);

    // The extension is real: the seat outlives the original deadline.
    await sleep(Math.max(0, Date.parse(original) - Date.now()) + 300);
    expect((await itemRow(itemId)).reserved_by).toEqual([a!.id]);
    expect((await events(itemId)).map((e) => e.event)).not.toContain('expired');

    const released = await a!.api.post(q.path(`/items/${itemId}/release`));
    expect(released.status).toBe(200);
    expect((await itemRow(itemId)).reserved_by).toEqual([]);

    const afterRelease = await heartbeat();
    expect(afterRelease.status).toBe(409);
    expect(afterRelease.body.error.code).toBe('CONFLICT');
  });

  it('never offers a skipped item to the skipper again; when every annotator skipped it is skipped until a manager resets it', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 1, reservationTimeoutSeconds: 2, items: 1 });
    const [a, b] = q.annotators;
    const itemId = q.itemIds[0]!;
    await created(itemId);

    expect((await a!.api.post(q.path('/next'))).body.item.id).toBe(itemId);
    const skipped = await a!.api.post(q.path(`/items/${itemId}/skip`));
    expect(skipped.status).toBe(200);
    expect(skipped.body.item.status).toBe('pending');
    expect((await a!.api.post(q.path('/next'))).status).toBe(204);
    // Also not after its lease would have expired.
    await sleep(2300);
    expect((await a!.api.post(q.path('/next'))).status).toBe(204);
    expect((await a!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(409);

    // The other annotator still gets it; when they skip too, nobody is left.
    expect((await b!.api.post(q.path('/next'))).body.item.id).toBe(itemId);
    const last = await b!.api.post(q.path(`/items/${itemId}/skip`));
    expect(last.status).toBe(200);
    expect(last.body.item.status).toBe('skipped');
    const row = await itemRow(itemId);
    expect(row.status).toBe('skipped');
    expect([...row.skipped_by].sort()).toEqual([a!.id, b!.id].sort());
    expect((await b!.api.post(q.path('/next'))).status).toBe(204);

    // An annotator cannot reset; a manager (the workspace admin) can.
    expect((await a!.api.post(q.path(`/items/${itemId}/reset`))).status).toBe(403);
    const reset = await q.admin.post(q.path(`/items/${itemId}/reset`));
    expect(reset.status).toBe(200);
    expect(reset.body.item.status).toBe('pending');
    const reopened = await itemRow(itemId);
    expect(reopened.status).toBe('pending');
    expect(reopened.skipped_by).toEqual([]);

    const again = await a!.api.post(q.path('/next'));
    expect(again.status).toBe(200);
    expect(again.body.item.id).toBe(itemId);
    expect((await events(itemId)).map((e) => e.event)).toEqual(['created', 'reserved', 'skipped', 'reserved', 'skipped', 'reset', 'reserved']);
  });
});
