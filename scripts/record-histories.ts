// Records one history per path of the item workflow into test/histories/, for test/replay.test.ts to
// replay on every run: `npm run record-histories`. Only paths without a file are recorded. A committed
// history is never modified or re-recorded (docs/adr/0003): a new path of the workflow gets a new name here.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findOrInstallTemporalCli } from '../infra/temporal-cli.js';
import { startSharedServers } from '../test/helpers/global-setup.js';
import { createQueueFixture, waitFor, type QueueFixture } from '../test/helpers/queue-fixture.js';
import { startTestSystem, type HttpResult, type TestSystem } from '../test/helpers/system.js';

// HISTORIES_DIR: record somewhere else (to try the recorder without touching the committed files).
const outDir = process.env.HISTORIES_DIR ?? path.join(import.meta.dirname, '../test/histories');
const rating = { annotations: [{ label: 'rating', value: 'good' }] };

function expectStatus(result: HttpResult, status: number): void {
  if (result.status !== status) throw new Error(`expected ${status}, got ${result.status}: ${JSON.stringify(result.body)}`);
}

function recorder(system: TestSystem, temporalAddress: string) {
  return async function save(name: string, q: QueueFixture, itemId: string, closed: string) {
    await waitFor(
      () => q.admin.get(q.path(`/items/${itemId}`)),
      (r) => r.body.item.status === closed,
    );
    const handle = system.temporal.client.workflow.getHandle(`item-${itemId}`);
    await waitFor(
      () => handle.describe().then((d) => d.status.name),
      (s) => s !== 'RUNNING',
    );
    // The CLI's JSON is the format Temporal's tools and Worker.runReplayHistories read.
    const json = execFileSync(
      findOrInstallTemporalCli()!,
      ['workflow', 'show', '--workflow-id', `item-${itemId}`, '--address', temporalAddress, '--output', 'json'],
      {
        encoding: 'utf8',
      },
    );
    fs.writeFileSync(path.join(outDir, `${name}.json`), json, { flag: 'wx' });
    console.log(`recorded test/histories/${name}.json`);
  };
}

type Path = [file: string, drive: (system: TestSystem, save: ReturnType<typeof recorder>) => Promise<void>];

const PATHS: Path[] = [
  [
    'complete',
    async (system, save) => {
      const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
      const itemId = q.itemIds[0]!;
      for (const a of q.annotators) {
        expectStatus(await a.api.post(q.path('/next')), 200);
        await a.api.post(q.path(`/items/${itemId}/heartbeat`));
        expectStatus(await a.api.post(q.path(`/items/${itemId}/submit`), rating), 200);
      }
      await save('complete', q, itemId, 'completed');
    },
  ],
  [
    'expire',
    async (system, save) => {
      const q = await createQueueFixture(system, { annotators: 2, reservationTimeoutSeconds: 2, items: 1 });
      const itemId = q.itemIds[0]!;
      const [a, b] = q.annotators;
      expectStatus(await a!.api.post(q.path(`/items/${itemId}/reserve`)), 200);
      await waitFor(
        () => b!.api.post(q.path('/next')),
        (r) => r.status === 200,
        10_000,
      );
      expectStatus(await b!.api.post(q.path(`/items/${itemId}/submit`), rating), 200);
      await save('expire', q, itemId, 'completed');
    },
  ],
  [
    'review-rework',
    async (system, save) => {
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
      expectStatus(
        await reviewer.api.post(q.path(`/items/${itemId}/review`), {
          action: 'request_changes',
          targets: [{ annotatorId: a!.id, label: 'rating', comment: 'Look again' }],
        }),
        200,
      );
      expectStatus(await a!.api.post(q.path('/next')), 200);
      expectStatus(await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] }), 200);
      await waitFor(
        () => q.admin.get(q.path(`/items/${itemId}`)),
        (r) => r.body.item.status === 'pending_review',
      );
      expectStatus(await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' }), 200);
      await save('review-rework', q, itemId, 'completed');
    },
  ],
  [
    'skip-all',
    async (system, save) => {
      const q = await createQueueFixture(system, { annotators: 2, items: 1 });
      const itemId = q.itemIds[0]!;
      for (const a of q.annotators) {
        await a.api.post(q.path('/next'));
        expectStatus(await a.api.post(q.path(`/items/${itemId}/skip`)), 200);
      }
      await waitFor(
        () => q.admin.get(q.path(`/items/${itemId}`)),
        (r) => r.body.item.status === 'skipped',
      );
      expectStatus(await q.admin.post(q.path(`/items/${itemId}/reset`)), 200);
      expectStatus(await q.admin.delete(q.path(`/items/${itemId}`)), 200);
      await save('skip-all', q, itemId, 'cancelled');
    },
  ],
  [
    'cancel',
    async (system, save) => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      const itemId = q.itemIds[0]!;
      await q.annotators[0]!.api.post(q.path('/next'));
      await q.annotators[0]!.api.post(q.path(`/items/${itemId}/release`));
      expectStatus(await q.admin.delete(q.path(`/items/${itemId}`)), 200);
      await save('cancel', q, itemId, 'cancelled');
    },
  ],
  [
    'round-robin',
    async (system, save) => {
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
      expectStatus(await person.api.post(q.path('/next')), 200);
      expectStatus(await person.api.post(q.path(`/items/${itemId}/submit`), rating), 200);
      await save('round-robin', q, itemId, 'completed');
    },
  ],
  [
    // Patch 'serial-commits-with-rollback': two annotators whose submits arrive together, persisted one after the other.
    'complete-ordered-commits',
    async (system, save) => {
      const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
      const itemId = q.itemIds[0]!;
      for (const a of q.annotators) expectStatus(await a.api.post(q.path(`/items/${itemId}/reserve`)), 200);
      const submits = await Promise.all(q.annotators.map((a) => a.api.post(q.path(`/items/${itemId}/submit`), rating)));
      for (const s of submits) expectStatus(s, 200);
      await save('complete-ordered-commits', q, itemId, 'completed');
    },
  ],
  [
    // Patch 'finalize-with-last-transition': one annotator, no review; the submit completes the item.
    'one-annotator-final-answer',
    async (system, save) => {
      const q = await createQueueFixture(system, { annotators: 1, items: 1 });
      const itemId = q.itemIds[0]!;
      expectStatus(await q.annotators[0]!.api.post(q.path('/next')), 200);
      expectStatus(await q.annotators[0]!.api.post(q.path(`/items/${itemId}/submit`), rating), 200);
      await save('one-annotator-final-answer', q, itemId, 'completed');
    },
  ],
  [
    // Patch 'finalize-with-last-transition': review with a rework round; the approval completes the item.
    'review-rework-final-answer',
    async (system, save) => {
      const q = await createQueueFixture(system, { annotators: 2, reviewers: 1, annotationsRequired: 2, requiresReview: true, items: 1 });
      const itemId = q.itemIds[0]!;
      const [a, b] = q.annotators;
      for (const p of [a!, b!]) {
        expectStatus(await p.api.post(q.path(`/items/${itemId}/reserve`)), 200);
        expectStatus(await p.api.post(q.path(`/items/${itemId}/submit`), rating), 200);
      }
      const reviewer = q.reviewers[0]!;
      expectStatus(
        await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'request_changes', targets: [{ annotatorId: a!.id, comment: 'Look again' }] }),
        200,
      );
      expectStatus(await a!.api.post(q.path(`/items/${itemId}/reserve`)), 200);
      expectStatus(await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] }), 200);
      expectStatus(await reviewer.api.post(q.path(`/items/${itemId}/review`), { action: 'approve' }), 200);
      await save('review-rework-final-answer', q, itemId, 'completed');
    },
  ],
];

const { servers, stop } = await startSharedServers();
try {
  const system = await startTestSystem({ servers });
  const save = recorder(system, servers.temporalAddress);
  for (const [file, drive] of PATHS) {
    if (fs.existsSync(path.join(outDir, `${file}.json`))) continue;
    await drive(system, save);
  }
  await system.close();
} finally {
  await stop();
}
