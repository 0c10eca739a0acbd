import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ItemState } from '../../domain/item.js';
import { createPerson, createQueueFixture, waitFor, type Person } from '../helpers/queue-fixture.js';
import { createWorkspaceFixture, startTestSystem, type ApiClient, type HttpResult, type TestSystem } from '../helpers/system.js';

/** The queue API (DESIGN.md §3, §5): CRUD, status transitions, items, membership, access, bad input. */
describe('queues API', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  function expectError(res: HttpResult, status: number, code: string, message?: RegExp | string) {
    expect({ status: res.status, code: res.body?.error?.code }, JSON.stringify(res.body)).toEqual({ status, code });
    if (typeof message === 'string') expect(res.body.error.message).toBe(message);
    else if (message) expect(res.body.error.message).toMatch(message);
  }

  const itemRow = (itemId: string) => system.db('queue_items').where({ id: itemId }).first();
  const queueRow = (queueId: string) => system.db('queues').where({ id: queueId }).first();
  const itemCount = async (queueId: string) => Number((await system.db('queue_items').where({ queue_id: queueId }).count<{ n: number }[]>({ n: '*' }))[0]!.n);

  /** Waits until every item of the queue has its first snapshot from its workflow (adding returns once the workflow started). */
  const settled = (queueId: string) =>
    waitFor(
      () => system.db('queue_items').where({ queue_id: queueId }).select('version'),
      (rows) => rows.every((r) => r.version > 0),
    );

  async function newSources(admin: ApiClient, n: number, type = 'trace') {
    const sources = Array.from({ length: n }, () => ({ type, id: `${type}-${randomUUID()}`, input: 'q', output: 'a' }));
    const res = await admin.post('/api/v1/sources', sources);
    expect(res.status).toBe(200);
    expect(res.body.added).toHaveLength(n);
    return sources.map((s) => ({ sourceType: s.type, sourceId: s.id }));
  }

  /** Everything the workspace's queues have written, to show that a refused request wrote nothing. */
  async function snapshot(workspaceId: string) {
    const queueIds = system.db('queues').where({ workspace_id: workspaceId }).select('id');
    const itemIds = system.db('queue_items').where({ workspace_id: workspaceId }).select('id');
    const rows = async (query: Promise<unknown[]>) => JSON.stringify(await query);
    return {
      queues: await rows(system.db('queues').where({ workspace_id: workspaceId }).orderBy('id')),
      labels: await rows(system.db('queue_labels').whereIn('queue_id', queueIds).orderBy(['queue_id', 'label_id'])),
      members: await rows(system.db('queue_members').whereIn('queue_id', queueIds).orderBy(['queue_id', 'principal_id'])),
      items: await rows(system.db('queue_items').where({ workspace_id: workspaceId }).orderBy('id')),
      scores: await rows(system.db('scores').where({ workspace_id: workspaceId }).orderBy('id')),
      events: await rows(system.db('item_events').whereIn('item_id', itemIds).orderBy('id')),
      submissions: await rows(system.db('submissions').whereIn('item_id', itemIds).orderBy('idempotency_key')),
      results: await rows(system.db('item_results').whereIn('item_id', itemIds).orderBy(['item_id', 'label_id'])),
    };
  }

  describe('CRUD', () => {
    it('creates a queue with the documented defaults, reads, lists, changes and deletes it', async () => {
      const ws = await createWorkspaceFixture(system);
      const created = await ws.admin.post('/api/v1/queues', { name: 'Helpfulness' });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body).toMatchObject({
        name: 'Helpfulness',
        description: '',
        instructions: '',
        assignmentStrategy: 'manual',
        annotationsRequired: 1,
        reservationTimeoutSeconds: 1800,
        requiresReview: false,
        status: 'draft',
        labels: [],
        members: [],
      });
      const id: string = created.body.id;
      expect(await queueRow(id)).toMatchObject({
        workspace_id: ws.workspaceId,
        assignment_strategy: 'manual',
        annotations_required: 1,
        reservation_timeout_seconds: 1800,
        requires_review: false,
        status: 'draft',
      });

      const read = await ws.admin.get(`/api/v1/queues/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(created.body);
      const listed = await ws.admin.get('/api/v1/queues');
      expect(listed.status).toBe(200);
      expect(listed.body.data.map((x: { id: string }) => x.id)).toContain(id);
      // A member who is not in the queue does not see it in the list.
      expect((await ws.member.get('/api/v1/queues')).body.data).toEqual([]);

      await ws.admin.post('/api/v1/labels', { key: 'quality', name: 'Quality', type: 'thumbs' });
      const patched = await ws.admin.patch(`/api/v1/queues/${id}`, {
        name: 'Helpfulness v2',
        instructions: '# Read carefully',
        annotationsRequired: 3,
        reservationTimeoutSeconds: 120,
        requiresReview: true,
        assignmentStrategy: 'round_robin',
        labels: [{ label: 'quality' }],
        members: [{ userId: ws.memberId, roles: ['annotator', 'reviewer'] }],
      });
      expect(patched.status, JSON.stringify(patched.body)).toBe(200);
      expect(patched.body).toMatchObject({
        name: 'Helpfulness v2',
        instructions: '# Read carefully',
        annotationsRequired: 3,
        reservationTimeoutSeconds: 120,
        requiresReview: true,
        assignmentStrategy: 'round_robin',
        status: 'draft',
        labels: [{ key: 'quality', type: 'thumbs', required: true }],
        members: [{ userId: ws.memberId, roles: ['annotator', 'reviewer'] }],
      });
      expect((await ws.admin.get(`/api/v1/queues/${id}`)).body).toEqual(patched.body);
      // Now a member, they see it.
      expect((await ws.member.get('/api/v1/queues')).body.data.map((x: { id: string }) => x.id)).toEqual([id]);

      // Only an admin creates or deletes queues.
      expectError(await ws.member.post('/api/v1/queues', { name: 'mine' }), 403, 'FORBIDDEN');
      expectError(await ws.member.delete(`/api/v1/queues/${id}`), 403, 'FORBIDDEN');

      const deleted = await ws.admin.delete(`/api/v1/queues/${id}`);
      expect(deleted.status).toBe(204);
      expect((await queueRow(id)).deleted_at).not.toBeNull();
      expectError(await ws.admin.get(`/api/v1/queues/${id}`), 404, 'NOT_FOUND');
      expect((await ws.admin.get('/api/v1/queues')).body.data.map((x: { id: string }) => x.id)).not.toContain(id);
    });

    it('cancels the open items of a deleted queue and keeps their scores', async () => {
      const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 2 });
      const a = q.annotators[0]!;
      const [itemId, otherId] = q.itemIds as [string, string];
      expect((await a.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
      expect((await a.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] })).status).toBe(200);
      expect((await q.admin.delete(q.path())).status).toBe(204);
      for (const id of [itemId, otherId]) expect((await itemRow(id)).status).toBe('cancelled');
      expect(await system.db('scores').where({ queue_item_id: itemId })).toHaveLength(1);
    });
  });

  describe('status transitions', () => {
    it('follows the transition table; anything else is 409 INVALID_TRANSITION naming the allowed targets', async () => {
      const ws = await createWorkspaceFixture(system);
      const id = (await ws.admin.post('/api/v1/queues', { name: 'transitions' })).body.id as string;
      const to = (status: string) => ws.admin.post(`/api/v1/queues/${id}/status`, { status });
      const refused = async (status: string, from: string, allowed: string[]) => {
        const res = await to(status);
        expectError(res, 409, 'INVALID_TRANSITION');
        for (const target of allowed) expect(res.body.error.message).toContain(target);
        expect(res.body.error.details).toMatchObject({ from, to: status, allowed });
        expect((await queueRow(id)).status).toBe(from);
      };
      const moved = async (status: string) => {
        const res = await to(status);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.status).toBe(status);
        expect((await queueRow(id)).status).toBe(status);
      };

      await refused('paused', 'draft', ['active']);
      await refused('completed', 'draft', ['active']);
      await moved('active');
      await refused('draft', 'active', ['paused', 'completed']);
      await moved('paused');
      await refused('draft', 'paused', ['active', 'completed']);
      await moved('active');
      await moved('completed');
      await refused('paused', 'completed', ['active']);
      await refused('draft', 'completed', ['active']);
      await moved('active');
      await moved('paused');
      await moved('completed');
      // Asking for the current status changes nothing.
      const same = await to('completed');
      expect(same.status).toBe(200);
      expect(same.body.status).toBe('completed');
    });

    it('lets a queue manager change the status, not an annotator', async () => {
      const q = await createQueueFixture(system, { annotators: 1, managers: 1, items: 0 });
      expectError(await q.annotators[0]!.api.post(q.path('/status'), { status: 'paused' }), 403, 'FORBIDDEN');
      expect((await queueRow(q.queueId)).status).toBe('active');
      const paused = await q.managers[0]!.api.post(q.path('/status'), { status: 'paused' });
      expect(paused.status).toBe(200);
      expect((await queueRow(q.queueId)).status).toBe('paused');
    });

    it('turns a completed queue active again when items are added (not when every entry is a duplicate)', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      expect((await q.admin.post(q.path('/status'), { status: 'completed' })).status).toBe(200);
      await settled(q.queueId);
      const existing = await q.admin.get(q.path('/items'));
      const dup = await q.admin.post(q.path('/items'), { items: [{ sourceType: 'trace', sourceId: existing.body.data[0].sourceId }] });
      expect(dup.status).toBe(200);
      expect(dup.body.added).toEqual([]);
      expect((await queueRow(q.queueId)).status).toBe('completed');
      // A completed queue gives no new reservations.
      expectError(await q.annotators[0]!.api.post(q.path('/next')), 409, 'CONFLICT');

      const [source] = await newSources(q.admin, 1);
      const added = await q.admin.post(q.path('/items'), { items: [source] });
      expect(added.status).toBe(200);
      expect(added.body.added).toHaveLength(1);
      expect((await queueRow(q.queueId)).status).toBe('active');
      expect((await q.admin.get(q.path())).body.status).toBe('active');
      expect((await q.annotators[0]!.api.post(q.path('/next'))).status).toBe(200);
    });

    it('completes an active queue by itself once its last open item is finalized (DESIGN.md §4, Finalize)', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 3 });
      const a = q.annotators[0]!;
      const [first, second, removed] = q.itemIds as [string, string, string];
      expect((await q.admin.delete(q.path(`/items/${removed}`))).status).toBe(200);
      const annotate = async (itemId: string) => {
        expect((await a.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
        expect((await a.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] })).status).toBe(200);
        await waitFor(
          () => itemRow(itemId),
          (r) => r.status === 'completed',
        );
      };
      await annotate(first);
      // One item is still open: the queue stays active.
      await new Promise((r) => setTimeout(r, 300));
      expect((await queueRow(q.queueId)).status).toBe('active');

      await annotate(second);
      const status = await waitFor(
        () => queueRow(q.queueId),
        (r) => r.status === 'completed',
        3_000,
      ).then(
        (r) => r.status,
        async () => (await queueRow(q.queueId)).status,
      );
      expect(status).toBe('completed');
      expect((await q.admin.get(q.path())).body.status).toBe('completed');
    });

    it('a draft queue accepts items but serves no next (409 CONFLICT) until activated', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 2, status: 'draft' });
      expect(q.itemIds).toHaveLength(2);
      const a = q.annotators[0]!;
      await waitFor(
        () => itemRow(q.itemIds[0]!),
        (r) => r.version > 0,
      );
      expectError(await a.api.post(q.path('/next')), 409, 'CONFLICT', /draft/);
      expectError(await a.api.post(q.path(`/items/${q.itemIds[0]}/reserve`)), 409, 'CONFLICT');
      expect((await itemRow(q.itemIds[0]!)).reserved_by).toEqual([]);
      expect(await system.db('item_events').whereIn('item_id', q.itemIds).where({ event: 'reserved' })).toHaveLength(0);

      expect((await q.admin.post(q.path('/status'), { status: 'active' })).status).toBe(200);
      const next = await a.api.post(q.path('/next'));
      expect(next.status).toBe(200);
    });

    it('a paused queue refuses new reservations with 409, keeps live ones, lets them submit, and accepts items', async () => {
      const q = await createQueueFixture(system, { annotators: 2, items: 2 });
      const [a, b] = q.annotators as [Person, Person];
      const [first, second] = q.itemIds as [string, string];
      expect((await a.api.post(q.path(`/items/${first}/reserve`))).status).toBe(200);
      expect((await q.admin.post(q.path('/status'), { status: 'paused' })).status).toBe(200);

      expectError(await b.api.post(q.path('/next')), 409, 'CONFLICT', /paused/);
      expectError(await b.api.post(q.path(`/items/${second}/reserve`)), 409, 'CONFLICT');
      expect((await itemRow(second)).reserved_by).toEqual([]);

      // The live reservation survives the pause.
      expect((await itemRow(first)).reserved_by).toEqual([a.id]);
      expect((await a.api.post(q.path(`/items/${first}/heartbeat`))).status).toBe(200);
      const submitted = await a.api.post(q.path(`/items/${first}/submit`), { annotations: [{ label: 'rating', value: 'good' }] });
      expect(submitted.status, JSON.stringify(submitted.body)).toBe(200);
      await waitFor(
        () => itemRow(first),
        (r) => r.status === 'completed',
      );

      const [source] = await newSources(q.admin, 1);
      const added = await q.admin.post(q.path('/items'), { items: [source] });
      expect(added.status).toBe(200);
      expect(added.body.added).toHaveLength(1);
      expect((await queueRow(q.queueId)).status).toBe('paused');
    });
  });

  describe('items', () => {
    it('reports duplicates and unknown sources per entry, and keeps one row per (queue, source)', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 0 });
      const [s1, s2, s3] = await newSources(q.admin, 3);
      const unknown = { sourceType: 'trace', sourceId: `missing-${randomUUID()}` };
      const first = await q.admin.post(q.path('/items'), { items: [s1, s1, s2, unknown, { ...s1, sourceType: 'dataset_row' }] });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.added.map((x: { index: number }) => x.index)).toEqual([0, 2]);
      expect(first.body.added[0]).toMatchObject({ sourceType: 'trace', sourceId: s1!.sourceId, itemId: expect.any(String) });
      expect(first.body.duplicates).toEqual([{ index: 1, ...s1 }]);
      expect(first.body.errors).toEqual([
        { index: 3, code: 'NOT_FOUND', message: expect.stringContaining(unknown.sourceId) },
        { index: 4, code: 'NOT_FOUND', message: expect.any(String) },
      ]);

      await settled(q.queueId);
      const second = await q.admin.post(q.path('/items'), { items: [s2, s3] });
      expect(second.status).toBe(200);
      expect(second.body.duplicates).toEqual([{ index: 0, ...s2 }]);
      expect(second.body.added).toEqual([{ index: 1, itemId: expect.any(String), ...s3 }]);
      expect(await itemCount(q.queueId)).toBe(3);

      // The constraint holds even if code does not: a second row for the same source is refused by Postgres.
      const row = await system.db('queue_items').where({ queue_id: q.queueId }).first();
      await expect(
        system.db('queue_items').insert({ id: randomUUID(), workspace_id: row.workspace_id, queue_id: q.queueId, source_id: row.source_id, seats_required: 1 }),
      ).rejects.toMatchObject({ code: '23505' });
      expect(await itemCount(q.queueId)).toBe(3);
    });

    it("reports a source re-added before its item's workflow first ran as a duplicate, not as added", async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 0 });
      expect((await q.admin.post(q.path('/status'), { status: 'completed' })).status).toBe(200);
      const [source] = await newSources(q.admin, 1);
      // With the worker stopped the item's workflow is started but has not written its first snapshot yet:
      // the window between an acknowledged add and the workflow's first task, held open.
      await system.stopWorker();
      let first: HttpResult;
      let again: HttpResult;
      try {
        first = await q.admin.post(q.path('/items'), { items: [source] });
        expect(first.status).toBe(200);
        expect(first.body.added).toHaveLength(1);
        expect((await queueRow(q.queueId)).status).toBe('active');
        expect((await q.admin.post(q.path('/status'), { status: 'completed' })).status).toBe(200);
        again = await q.admin.post(q.path('/items'), { items: [source] });
      } finally {
        await system.startWorker();
      }
      expect(again.status).toBe(200);
      expect(await itemCount(q.queueId)).toBe(1);
      expect({ added: again.body.added, duplicates: again.body.duplicates }).toEqual({ added: [], duplicates: [{ index: 0, ...source }] });
      // Nothing was added, so the completed queue stays completed.
      expect((await queueRow(q.queueId)).status).toBe('completed');
    });

    it('refuses more than 1000 entries (or none) with 400 and writes nothing', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      await settled(q.queueId);
      const before = await snapshot(q.workspaceId);
      const many = Array.from({ length: 1001 }, (_, i) => ({ sourceType: 'trace', sourceId: `t-${i}` }));
      expectError(await q.admin.post(q.path('/items'), { items: many }), 400, 'VALIDATION', /1000/);
      expectError(await q.admin.post(q.path('/items'), { items: [] }), 400, 'VALIDATION');
      expect(await snapshot(q.workspaceId)).toEqual(before);
    });

    it('lists items filtered by status, assignee and source type, with cursor pagination', async () => {
      const q = await createQueueFixture(system, { annotators: 2, items: 4 });
      const [a, b] = q.annotators as [Person, Person];
      const [row] = await newSources(q.admin, 1, 'dataset_row');
      const addedRow = await q.admin.post(q.path('/items'), { items: [row] });
      const rowItemId: string = addedRow.body.added[0].itemId;
      const all = [...q.itemIds, rowItemId];
      const reservedId = q.itemIds[1]!;
      expect((await a.api.post(q.path(`/items/${reservedId}/reserve`))).status).toBe(200);

      const ids = async (query: string) => {
        const res = await q.admin.get(q.path(`/items${query}`));
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return res.body.data.map((x: { id: string }) => x.id).sort();
      };
      expect(await ids('')).toEqual([...all].sort());
      expect(await ids('?status=in_progress')).toEqual([reservedId]);
      expect(await ids('?status=pending')).toEqual(all.filter((x) => x !== reservedId).sort());
      expect(await ids('?status=completed')).toEqual([]);
      expect(await ids(`?assignee=${a.id}`)).toEqual([reservedId]);
      expect(await ids(`?assignee=${b.id}`)).toEqual([]);
      expect(await ids('?sourceType=dataset_row')).toEqual([rowItemId]);
      expect(await ids('?sourceType=trace')).toEqual([...q.itemIds].sort());
      expect(await ids(`?sourceType=trace&status=in_progress&assignee=${a.id}`)).toEqual([reservedId]);
      expect(await ids('?sourceType=dataset_row&status=in_progress')).toEqual([]);

      const one = await q.admin.get(q.path(`/items/${rowItemId}`));
      expect(one.body.item).toMatchObject({
        id: rowItemId,
        queueId: q.queueId,
        sourceType: 'dataset_row',
        sourceId: row!.sourceId,
        status: 'pending',
        annotationsRequired: 1,
        submittedCount: 0,
      });

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res: HttpResult = await q.admin.get(q.path(`/items?limit=2${cursor ? `&cursor=${cursor}` : ''}`));
        expect(res.status).toBe(200);
        expect(res.body.data.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.data.map((x: { id: string }) => x.id));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toHaveLength(5);
      expect([...seen].sort()).toEqual([...all].sort());
      const exact = await q.admin.get(q.path('/items?limit=5'));
      expect(exact.body.data).toHaveLength(5);
      expect(exact.body.nextCursor).toBeNull();
    });

    it('DELETE …/items/{id} cancels the item: status cancelled, workflow closed, submitted scores kept', async () => {
      const q = await createQueueFixture(system, { annotators: 3, annotationsRequired: 2, items: 1 });
      const [a, b, c] = q.annotators as [Person, Person, Person];
      const itemId = q.itemIds[0]!;
      expect((await a.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
      expect(
        (
          await a.api.post(q.path(`/items/${itemId}/submit`), {
            annotations: [
              { label: 'rating', value: 'good' },
              { label: 'score', value: 3 },
            ],
          })
        ).status,
      ).toBe(200);
      expect((await b.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);

      expectError(await a.api.delete(q.path(`/items/${itemId}`)), 403, 'FORBIDDEN');
      expect((await itemRow(itemId)).status).toBe('in_progress');

      const removed = await q.admin.delete(q.path(`/items/${itemId}`));
      expect(removed.status, JSON.stringify(removed.body)).toBe(200);
      expect(removed.body).toEqual({ item: { id: itemId, status: 'cancelled' } });
      const row = await itemRow(itemId);
      expect(row.status).toBe('cancelled');
      expect(row.closed_at).not.toBeNull();
      const handle = system.temporal.client.workflow.getHandle(`item-${itemId}`);
      await waitFor(
        () => handle.describe(),
        (d) => d.status.name === 'COMPLETED',
      );
      expect(await system.db('scores').where({ queue_item_id: itemId })).toHaveLength(2);
      expect(await system.db('item_events').where({ item_id: itemId, event: 'cancelled' })).toHaveLength(1);
      expect(await system.db('item_results').where({ item_id: itemId })).toHaveLength(0);

      // The reservation holder cannot submit; nobody is offered it; removing it again is a no-op.
      expectError(await b.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] }), 409, 'CONFLICT');
      // Its only item closed, so the queue completed by itself: no more work is served.
      expect((await q.admin.get(q.path())).body.status).toBe('completed');
      expectError(await c.api.post(q.path('/next')), 409, 'CONFLICT');
      const again = await q.admin.delete(q.path(`/items/${itemId}`));
      expect(again.status).toBe(200);
      expect(again.body.item.status).toBe('cancelled');
      expect(await system.db('item_events').where({ item_id: itemId, event: 'cancelled' })).toHaveLength(1);
      expect((await q.admin.get(q.path('/items?status=cancelled'))).body.data.map((x: { id: string }) => x.id)).toEqual([itemId]);
    });

    it('refuses to remove a completed item with 409', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      const a = q.annotators[0]!;
      const itemId = q.itemIds[0]!;
      expect((await a.api.post(q.path('/next'))).status).toBe(200);
      expect((await a.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] })).status).toBe(200);
      await waitFor(
        () => itemRow(itemId),
        (r) => r.status === 'completed',
      );
      expectError(await q.admin.delete(q.path(`/items/${itemId}`)), 409, 'CONFLICT');
      expect((await itemRow(itemId)).status).toBe('completed');
    });
  });

  describe('membership and access', () => {
    it('removing a member with PATCH members frees the seat they held for another annotator', async () => {
      const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 1, items: 1 });
      const [a, b] = q.annotators as [Person, Person];
      const itemId = q.itemIds[0]!;
      expect((await a.api.post(q.path('/next'))).body.item.id).toBe(itemId);
      expect((await b.api.post(q.path('/next'))).status).toBe(204);

      const patched = await q.admin.patch(q.path(), { members: [{ userId: b.id, roles: ['annotator'] }] });
      expect(patched.status).toBe(200);
      expect(patched.body.members).toEqual([{ userId: b.id, roles: ['annotator'] }]);

      const freed = await waitFor(
        () => itemRow(itemId),
        (r) => r.reserved_by.length === 0,
      );
      expect(freed.skipped_by).toEqual([a.id]);
      expect(await system.db('item_events').where({ item_id: itemId, event: 'member_removed', actor_id: a.id })).toHaveLength(1);
      const taken = await b.api.post(q.path('/next'));
      expect(taken.status).toBe(200);
      expect(taken.body.item.id).toBe(itemId);
      expect((await itemRow(itemId)).reserved_by).toEqual([b.id]);

      // The former member no longer sees the queue and cannot submit.
      expectError(await a.api.get(q.path()), 404, 'NOT_FOUND');
      expectError(await a.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] }), 404, 'NOT_FOUND');
      expect(await system.db('scores').where({ queue_item_id: itemId })).toHaveLength(0);
    });

    it('answers 404 to a workspace member outside the queue and to anyone from another workspace', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      const itemId = q.itemIds[0]!;
      const outsider = await createPerson(system, q.admin, 'outsider');
      const other = await createWorkspaceFixture(system);
      const [foreignSource] = await newSources(other.admin, 1);
      await settled(q.queueId);
      const before = await snapshot(q.workspaceId);

      for (const api of [outsider.api, other.admin, other.member]) {
        expectError(await api.get(q.path()), 404, 'NOT_FOUND');
        expectError(await api.get(q.path('/items')), 404, 'NOT_FOUND');
        expectError(await api.get(q.path(`/items/${itemId}`)), 404, 'NOT_FOUND');
        expectError(await api.get(q.path('/progress')), 404, 'NOT_FOUND');
        expectError(await api.get(q.path(`/items/${itemId}/history`)), 404, 'NOT_FOUND');
        expectError(await api.post(q.path('/next')), 404, 'NOT_FOUND');
        expectError(await api.post(q.path(`/items/${itemId}/reserve`)), 404, 'NOT_FOUND');
        expectError(await api.patch(q.path(), { name: 'taken over' }), 404, 'NOT_FOUND');
        expectError(await api.post(q.path('/status'), { status: 'paused' }), 404, 'NOT_FOUND');
        expectError(await api.post(q.path('/items'), { items: [foreignSource] }), 404, 'NOT_FOUND');
        expectError(await api.delete(q.path(`/items/${itemId}`)), 404, 'NOT_FOUND');
        expect((await api.get('/api/v1/queues')).body.data.map((x: { id: string }) => x.id)).not.toContain(q.queueId);
      }
      // Even the other workspace's admin cannot delete it.
      expectError(await other.admin.delete(q.path()), 404, 'NOT_FOUND');
      expect(await snapshot(q.workspaceId)).toEqual(before);
    });

    it('forbids an annotator to change the queue or its items (403), writing nothing', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      const a = q.annotators[0]!;
      const [source] = await newSources(q.admin, 1);
      await settled(q.queueId);
      const before = await snapshot(q.workspaceId);
      expectError(await a.api.patch(q.path(), { name: 'mine now' }), 403, 'FORBIDDEN');
      expectError(await a.api.patch(q.path(), { members: [{ userId: a.id, roles: ['annotator', 'manager'] }] }), 403, 'FORBIDDEN');
      expectError(await a.api.post(q.path('/items'), { items: [source] }), 403, 'FORBIDDEN');
      expectError(await a.api.post(q.path('/items/assign'), { itemIds: q.itemIds, userIds: [a.id], action: 'add' }), 403, 'FORBIDDEN');
      expectError(await a.api.delete(q.path()), 403, 'FORBIDDEN');
      expect(await snapshot(q.workspaceId)).toEqual(before);
      expect((await queueRow(q.queueId)).name).not.toBe('mine now');
    });
  });

  describe('bad input', () => {
    it('refuses bad queue bodies on create and update with 400 VALIDATION and writes nothing', async () => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      const a = q.annotators[0]!;
      const other = await createWorkspaceFixture(system);
      await other.admin.post('/api/v1/labels', { key: 'foreign', name: 'Foreign', type: 'thumbs' });
      const foreignLabel = (await other.admin.get('/api/v1/labels/foreign')).body.id as string;
      await settled(q.queueId);
      const before = await snapshot(q.workspaceId);

      const bad: [unknown, RegExp][] = [
        [{ name: 'x', bogus: 1 }, /bogus/],
        [{ name: 'x', status: 'active' }, /status/],
        [{ name: 'x', annotationsRequired: 11 }, /annotationsRequired/],
        [{ name: 'x', annotationsRequired: 0 }, /annotationsRequired/],
        [{ name: 'x', annotationsRequired: 1.5 }, /annotationsRequired/],
        [{ name: 'x', annotationsRequired: '2' }, /annotationsRequired/],
        [{ name: 'x', requiresReview: 'yes' }, /requiresReview/],
        [{ name: 'x', reservationTimeoutSeconds: 0 }, /reservationTimeoutSeconds/],
        [{ name: 'x', assignmentStrategy: 'random' }, /assignmentStrategy/],
        [{ name: 'x', labels: [{ label: 'no-such-label' }] }, /no-such-label/],
        [{ name: 'x', labels: [{ label: foreignLabel }] }, /labels/],
        [{ name: 'x', labels: [{ label: 'rating' }, { label: 'rating' }] }, /labels/],
        [{ name: 'x', labels: [{ label: 'rating', required: 'yes' }] }, /labels/],
        [{ name: 'x', labels: 'rating' }, /labels/],
        [{ name: 'x', members: [{ userId: randomUUID(), roles: ['annotator'] }] }, /members/],
        [{ name: 'x', members: [{ userId: other.memberId, roles: ['annotator'] }] }, /members/],
        [{ name: 'x', members: [{ userId: a.id, roles: ['boss'] }] }, /members/],
        [{ name: 'x', members: [{ userId: a.id, roles: [] }] }, /members/],
        [
          {
            name: 'x',
            members: [
              { userId: a.id, roles: ['annotator'] },
              { userId: a.id, roles: ['reviewer'] },
            ],
          },
          /members/,
        ],
      ];
      for (const [body, message] of bad) {
        expectError(await q.admin.post('/api/v1/queues', body), 400, 'VALIDATION', message);
        expectError(await q.admin.patch(q.path(), body), 400, 'VALIDATION', message);
      }
      for (const body of [{}, { name: 5 }, { name: '   ' }, { description: 'no name' }]) {
        expectError(await q.admin.post('/api/v1/queues', body), 400, 'VALIDATION', /name/);
      }
      expectError(await q.admin.patch(q.path(), { name: '' }), 400, 'VALIDATION', /name/);
      expectError(await q.admin.raw('POST', '/api/v1/queues', '{"name": ', { 'content-type': 'application/json' }), 400, 'VALIDATION', /JSON/);
      expectError(await q.admin.raw('PATCH', q.path(), '[', { 'content-type': 'application/json' }), 400, 'VALIDATION', /JSON/);
      expect(await snapshot(q.workspaceId)).toEqual(before);
    });

    it('refuses bad input on status, items, assign, list, next, submit and review with 400 and writes nothing', async () => {
      const q = await createQueueFixture(system, { annotators: 2, reviewers: 1, items: 1 });
      const [a, b] = q.annotators as [Person, Person];
      const itemId = q.itemIds[0]!;
      const [source] = await newSources(q.admin, 1);
      expect((await a.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
      await settled(q.queueId);
      const before = await snapshot(q.workspaceId);

      for (const body of [{ status: 'archived' }, { status: 1 }, {}, { status: 'paused', force: true }]) {
        expectError(await q.admin.post(q.path('/status'), body), 400, 'VALIDATION', /status|force/);
      }
      for (const body of [
        {},
        { items: 'all' },
        { items: [{ ...source, priority: 'high' }] },
        { items: [{ ...source, priority: 1.5 }] },
        { items: [{ ...source, note: 'x' }] },
        { items: [{ sourceType: 'tweet', sourceId: 'x' }] },
        { items: [{ sourceType: 'trace', sourceId: '' }] },
        { items: [source], bogus: true },
      ]) {
        expectError(await q.admin.post(q.path('/items'), body), 400, 'VALIDATION');
      }
      for (const body of [
        { itemIds: [itemId], userIds: [b.id], action: 'pin' },
        { itemIds: [], userIds: [b.id], action: 'add' },
        { itemIds: [itemId], userIds: [b.id] },
        { itemIds: [itemId], userIds: [q.reviewers[0]!.id], action: 'add' },
        { itemIds: [randomUUID()], userIds: [b.id], action: 'add' },
        { itemIds: [itemId], userIds: [b.id], action: 'add', extra: 1 },
      ]) {
        expectError(await q.admin.post(q.path('/items/assign'), body), 400, 'VALIDATION');
      }
      for (const query of ['?status=bogus', '?limit=0', '?limit=501', '?limit=ten', '?sourceType=tweet', '?cursor=not-a-cursor', '?unknown=1']) {
        expectError(await q.admin.get(q.path(`/items${query}`)), 400, 'VALIDATION');
      }
      expectError(await q.admin.get(`/api/v1/queues?limit=0`), 400, 'VALIDATION');
      for (const query of ['?mode=bogus', '?mode=annotate&extra=1']) {
        expectError(await b.api.post(q.path(`/next${query}`)), 400, 'VALIDATION');
      }
      for (const body of [
        {},
        { annotations: [] },
        { annotations: [{ label: 'rating', value: 'great' }] },
        { annotations: [{ label: 'no-such-label', value: 'good' }] },
        { annotations: [{ label: 'rating', value: 'good', extra: 1 }] },
        {
          annotations: [
            { label: 'rating', value: 'good' },
            { label: 'score', value: 11 },
          ],
        },
        {
          annotations: [
            { label: 'rating', value: 'good' },
            { label: 'score', value: 'seven' },
          ],
        },
        { annotations: [{ label: 'rating', value: { nested: true } }] },
        { annotations: [{ label: 'rating', value: 'good' }], bogus: 1 },
      ]) {
        expectError(await a.api.post(q.path(`/items/${itemId}/submit`), body), 400, 'VALIDATION');
      }
      for (const body of [{ action: 'maybe' }, {}, { action: 'approve', targets: [{ annotatorId: a.id }] }, { action: 'approve', extra: 1 }]) {
        expectError(await q.reviewers[0]!.api.post(q.path(`/items/${itemId}/review`), body), 400, 'VALIDATION');
      }
      // Ids that are not ids: 404, never a 500 from Postgres.
      expectError(await q.admin.get('/api/v1/queues/not-a-uuid'), 404, 'NOT_FOUND');
      expectError(await q.admin.get(q.path('/items/not-a-uuid')), 404, 'NOT_FOUND');
      const bodies: Record<string, unknown> = { submit: { annotations: [{ label: 'rating', value: 'good' }] }, review: { action: 'approve' } };
      for (const action of ['reserve', 'heartbeat', 'release', 'skip', 'submit']) {
        for (const id of ['not-a-uuid', randomUUID()]) expectError(await a.api.post(q.path(`/items/${id}/${action}`), bodies[action]), 404, 'NOT_FOUND');
      }
      for (const action of ['review', 'reset']) {
        for (const id of ['not-a-uuid', randomUUID()])
          expectError(
            await q.admin.post(q.path(`/items/${id}/${action}`), bodies[action]),
            action === 'review' ? 403 : 404,
            action === 'review' ? 'FORBIDDEN' : 'NOT_FOUND',
          );
      }
      expectError(await q.reviewers[0]!.api.post(q.path('/items/not-a-uuid/review'), { action: 'approve' }), 404, 'NOT_FOUND');
      expect(await snapshot(q.workspaceId)).toEqual(before);
      expect((await itemRow(itemId)).reserved_by).toEqual([a.id]);
    });
  });

  describe('read model', () => {
    it('matches the workflow state after every acknowledged reserve, submit and release', async () => {
      const q = await createQueueFixture(system, { annotators: 3, annotationsRequired: 2, items: 1 });
      const [a, b, c] = q.annotators as [Person, Person, Person];
      const itemId = q.itemIds[0]!;
      const handle = system.temporal.client.workflow.getHandle(`item-${itemId}`);

      const compare = async (expected: { status: string; reservedBy: string[]; submittedBy: string[] }) => {
        const [row, state] = await Promise.all([itemRow(itemId), handle.query<ItemState>('state')]);
        const seats = Object.values(state.seats);
        const fromWorkflow = {
          status: state.status,
          version: state.version,
          reservedBy: seats
            .filter((s) => s.state === 'reserved')
            .map((s) => s.annotatorId)
            .sort(),
          submittedBy: seats
            .filter((s) => s.state === 'submitted')
            .map((s) => s.annotatorId)
            .sort(),
        };
        const fromReadModel = { status: row.status, version: row.version, reservedBy: [...row.reserved_by].sort(), submittedBy: [...row.submitted_by].sort() };
        expect(fromReadModel).toEqual(fromWorkflow);
        expect(fromReadModel).toMatchObject({ ...expected, reservedBy: [...expected.reservedBy].sort(), submittedBy: [...expected.submittedBy].sort() });
        expect(row.seats_occupied).toBe(seats.length);
        expect(row.submitted_count).toBe(fromWorkflow.submittedBy.length);
      };

      await settled(q.queueId);
      await compare({ status: 'pending', reservedBy: [], submittedBy: [] });
      expect((await a.api.post(q.path('/next'))).status).toBe(200);
      await compare({ status: 'in_progress', reservedBy: [a.id], submittedBy: [] });
      expect((await b.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
      await compare({ status: 'in_progress', reservedBy: [a.id, b.id], submittedBy: [] });
      expect((await a.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] })).status).toBe(200);
      await compare({ status: 'in_progress', reservedBy: [b.id], submittedBy: [a.id] });
      expect((await b.api.post(q.path(`/items/${itemId}/release`))).status).toBe(200);
      await compare({ status: 'in_progress', reservedBy: [], submittedBy: [a.id] });
      expect((await c.api.post(q.path('/next'))).status).toBe(200);
      await compare({ status: 'in_progress', reservedBy: [c.id], submittedBy: [a.id] });
      expect((await c.api.post(q.path(`/items/${itemId}/release`))).status).toBe(200);
      await compare({ status: 'in_progress', reservedBy: [], submittedBy: [a.id] });

      // A lone reservation released returns the item to pending.
      const q2 = await createQueueFixture(system, { annotators: 1, items: 1 });
      const only = q2.itemIds[0]!;
      expect((await q2.annotators[0]!.api.post(q2.path('/next'))).status).toBe(200);
      expect((await q2.annotators[0]!.api.post(q2.path(`/items/${only}/release`))).status).toBe(200);
      const [row, state] = await Promise.all([itemRow(only), system.temporal.client.workflow.getHandle(`item-${only}`).query<ItemState>('state')]);
      expect({ status: row.status, version: row.version, reserved: row.reserved_by }).toEqual({ status: state.status, version: state.version, reserved: [] });
      expect(row.status).toBe('pending');
    });
  });
});
