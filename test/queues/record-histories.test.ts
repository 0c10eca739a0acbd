import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { findOrInstallTemporalCli } from '../../infra/temporal-cli.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createQueueFixture, waitFor, type QueueFixture } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/**
 * Records one history per path of the item workflow into test/histories/, for test/replay.test.ts
 * to replay on every run. Run it only when a recorded path must be added: `npm run record-histories`.
 * Existing files are never overwritten: they are the earlier behaviour that later code must replay.
 */
const outDir = path.join(import.meta.dirname, '../histories');

describe.skipIf(!process.env.RECORD_HISTORIES)('record item workflow histories', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  async function save(name: string, q: QueueFixture, itemId: string, closed: string) {
    await waitFor(
      () => q.admin.get(q.path(`/items/${itemId}`)),
      (r) => r.body.item.status === closed,
    );
    const handle = system.temporal.client.workflow.getHandle(`item-${itemId}`);
    await waitFor(
      () => handle.describe().then((d) => d.status.name),
      (s) => s !== 'RUNNING',
    );
    const file = path.join(outDir, `${name}.json`);
    if (fs.existsSync(file)) return;
    // The CLI's JSON is the format Temporal's tools and Worker.runReplayHistories read.
    const json = execFileSync(
      findOrInstallTemporalCli()!,
      ['workflow', 'show', '--workflow-id', `item-${itemId}`, '--address', inject('temporalAddress'), '--output', 'json'],
      { encoding: 'utf8' },
    );
    fs.writeFileSync(file, json);
  }

  const rating = { annotations: [{ label: 'rating', value: 'good' }] };

  it('complete', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const itemId = q.itemIds[0]!;
    for (const a of q.annotators) {
      expect((await a.api.post(q.path('/next'))).status).toBe(200);
      await a.api.post(q.path(`/items/${itemId}/heartbeat`));
      expect((await a.api.post(q.path(`/items/${itemId}/submit`), rating)).status).toBe(200);
    }
    await save('complete', q, itemId, 'completed');
  });

  it('expire', async () => {
    const q = await createQueueFixture(system, { annotators: 2, reservationTimeoutSeconds: 2, items: 1 });
    const itemId = q.itemIds[0]!;
    const [a, b] = q.annotators;
    expect((await a!.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    await waitFor(
      () => b!.api.post(q.path('/next')),
      (r) => r.status === 200,
      10_000,
    );
    expect((await b!.api.post(q.path(`/items/${itemId}/submit`), rating)).status).toBe(200);
    await save('expire', q, itemId, 'completed');
  });

  it('review with rework', async () => {
    const q = await createQueueFixture(system, { annotators: 2, reviewers: 1, annotationsRequired: 2, requiresReview: true, items: 1 });
    const itemId = q.itemIds[0]!;
    const [a, b] = q.annotators;
    for (const p of [a!, b!]) {
      await p.api.post(q.path('/next'));
      await p.api.post(q.path(`/items/${itemId}/submit`), rating);
    }
    const reviewer = q.reviewers[0]!;
    await waitFor(
      () => q.admin.get(q.path(`/items/${itemId}`)),
      (r) => r.body.item.status === 'pending_review',
    );
    expect(
      (
        await reviewer.api.post(q.path(`/items/${itemId}/review`), {
          action: 'request_changes',
          targets: [{ annotatorId: a!.id, label: 'rating', comment: 'Look again' }],
        })
      ).status,
    ).toBe(200);
    expect((await a!.api.post(q.path('/next'))).status).toBe(200);
    expect((await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] })).status).toBe(200);
    await waitFor(
      () => q.admin.get(q.path(`/items/${itemId}`)),
      (r) => r.body.item.status === 'pending_review',
    );
    expect((await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' })).status).toBe(200);
    await save('review-rework', q, itemId, 'completed');
  });

  it('skip by all, reset, cancel', async () => {
    const q = await createQueueFixture(system, { annotators: 2, items: 1 });
    const itemId = q.itemIds[0]!;
    for (const a of q.annotators) {
      await a.api.post(q.path('/next'));
      expect((await a.api.post(q.path(`/items/${itemId}/skip`))).status).toBe(200);
    }
    await waitFor(
      () => q.admin.get(q.path(`/items/${itemId}`)),
      (r) => r.body.item.status === 'skipped',
    );
    expect((await q.admin.post(q.path(`/items/${itemId}/reset`))).status).toBe(200);
    expect((await q.admin.delete(q.path(`/items/${itemId}`))).status).toBe(200);
    await save('skip-all', q, itemId, 'cancelled');
  });

  it('cancel', async () => {
    const q = await createQueueFixture(system, { annotators: 1, items: 1 });
    const itemId = q.itemIds[0]!;
    await q.annotators[0]!.api.post(q.path('/next'));
    await q.annotators[0]!.api.post(q.path(`/items/${itemId}/release`));
    expect((await q.admin.delete(q.path(`/items/${itemId}`))).status).toBe(200);
    await save('cancel', q, itemId, 'cancelled');
  });

  it('round robin', async () => {
    const q = await createQueueFixture(system, { annotators: 2, assignmentStrategy: 'round_robin', reservationTimeoutSeconds: 2, items: 1 });
    const itemId = q.itemIds[0]!;
    // The first assignee lets it lapse; the second takes it.
    const first = await waitFor(
      () => system.db('queue_items').where({ id: itemId }).first(),
      (r) => r.assigned_to.length === 1,
    );
    const second = await waitFor(
      () => system.db('queue_items').where({ id: itemId }).first(),
      (r) => r.assigned_to.length === 1 && r.assigned_to[0] !== first.assigned_to[0],
      10_000,
    );
    const person = q.annotators.find((a) => a.id === second.assigned_to[0])!;
    expect((await person.api.post(q.path('/next'))).status).toBe(200);
    expect((await person.api.post(q.path(`/items/${itemId}/submit`), rating)).status).toBe(200);
    await save('round-robin', q, itemId, 'completed');
  });
});
