import type { z } from 'zod';
import type * as api from '../domain/api.js';
import { DomainError } from '../domain/errors.js';
import type { ItemConfig } from '../domain/item.js';
import type { Principal } from '../domain/principals.js';
import type { QueueRecord } from '../infra/repositories/queues.repo.js';
import { sourceKey } from '../infra/repositories/sources.repo.js';
import type { AppDeps } from './deps.js';
import { startItemWorkflow } from './item-workflows.js';
import { annotatorsOf } from './queue-access.js';
import { runLimited } from './run-limited.js';

type AddItemsBody = z.output<typeof api.addItemsBody>;
type AddItemsResult = z.output<typeof api.addItemsResponse>;

/** The queue's settings as an item keeps them: later changes to the queue apply to later items. */
export function itemConfigOf(queue: QueueRecord): ItemConfig {
  return {
    annotationsRequired: queue.annotationsRequired,
    reservationTimeoutMs: queue.reservationTimeoutSeconds * 1000,
    requiresReview: queue.requiresReview,
    assignmentStrategy: queue.assignmentStrategy,
    labels: queue.labels.map((l) => ({ labelId: l.labelId, key: l.key, required: l.required })),
  };
}

/**
 * Adds sources as items, one workflow each; per entry: added, duplicates (already in the queue),
 * errors (unknown source). Rows whose workflow did not start stay, and the same request again starts them.
 */
export async function addItems({ repos, temporal }: AppDeps, principal: Principal, queue: QueueRecord, body: AddItemsBody): Promise<AddItemsResult> {
  const result: AddItemsResult = { added: [], duplicates: [], errors: [] };
  const sources = await repos.sources.resolveIds(
    principal.workspaceId,
    body.items.map((e) => ({ type: e.sourceType, id: e.sourceId })),
  );
  const wanted: { index: number; sourceId: string; priority: number }[] = [];
  const seen = new Set<string>();
  body.items.forEach((entry, index) => {
    const sourceId = sources.get(sourceKey(entry.sourceType, entry.sourceId));
    if (!sourceId) return void result.errors.push({ index, code: 'NOT_FOUND', message: `Source ${entry.sourceType}/${entry.sourceId} was not found.` });
    if (seen.has(sourceId)) return void result.duplicates.push({ index, sourceType: entry.sourceType, sourceId: entry.sourceId });
    seen.add(sourceId);
    wanted.push({ index, sourceId, priority: entry.priority ?? 0 });
  });
  const config = itemConfigOf(queue);
  const inserted = await repos.items.insertItems(principal.workspaceId, queue.id, config, wanted);
  // An earlier add that stopped before its workflow started left a row at version 0: start it now.
  const unstarted = await repos.items.unstartedItems(
    queue.id,
    wanted.filter((w) => !inserted.has(w.sourceId)).map((w) => w.sourceId),
  );
  const toStart = wanted.flatMap((w) => {
    const itemId = inserted.get(w.sourceId) ?? unstarted.get(w.sourceId);
    return itemId ? [{ ...w, itemId }] : [];
  });
  const eligibleAnnotators = annotatorsOf(queue);
  const deadline = Date.now() + 30_000;
  const failed: string[] = [];
  // A row this request did not insert whose workflow turns out to be running: another add got there first.
  const alreadyRunning = new Set<string>();
  await runLimited(toStart, 25, async (entry) => {
    const outcome = await startItemWorkflow(
      temporal,
      { itemId: entry.itemId, workspaceId: principal.workspaceId, queueId: queue.id, config, eligibleAnnotators },
      deadline,
    );
    if (outcome === 'failed') failed.push(entry.itemId);
    else if (outcome === 'already_running' && !inserted.has(entry.sourceId)) alreadyRunning.add(entry.itemId);
  });
  if (failed.length > 0) {
    // Their rows stay (a start that timed out may still have happened); the same request again starts whatever is not running.
    throw new DomainError(
      'UNAVAILABLE',
      `Temporal did not confirm ${failed.length} of ${toStart.length} items; send the same request again to finish adding them.`,
    );
  }
  for (const w of wanted) {
    const entry = body.items[w.index]!;
    const itemId = inserted.get(w.sourceId) ?? unstarted.get(w.sourceId);
    if (itemId && !alreadyRunning.has(itemId)) result.added.push({ index: w.index, itemId, sourceType: entry.sourceType, sourceId: entry.sourceId });
    else result.duplicates.push({ index: w.index, sourceType: entry.sourceType, sourceId: entry.sourceId });
  }
  result.added.sort((a, b) => a.index - b.index);
  result.duplicates.sort((a, b) => a.index - b.index);
  if (result.added.length > 0 && queue.status === 'completed') await repos.queues.setStatus(principal.workspaceId, queue.id, 'completed', 'active');
  return result;
}
