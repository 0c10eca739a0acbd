import type { z } from 'zod';
import type * as api from '../domain/api.js';
import { DomainError, validationError } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';
import type { Principal } from '../domain/principals.js';
import type { QueueRecord } from '../infra/repositories/queues.repo.js';
import { assignUpdate, cancelUpdate, resetUpdate, type ItemStatusResult } from '../workflows/definitions.js';
import type { AppDeps } from './deps.js';
import { fromTemporal, updateItem } from './item-workflows.js';
import { annotatorsOf } from './queue-access.js';
import { runLimited } from './run-limited.js';

// A manager's actions on items: cancel, reset a skipped one, pin to people.

type AssignBody = z.output<typeof api.assignBody>;
type AssignResult = z.output<typeof api.assignResponse>;

/** Removes an item from its queue: its workflow closes, submitted scores are kept. */
export function cancelItem({ temporal }: AppDeps, itemId: string, actorId: string): Promise<ItemStatusResult> {
  return updateItem(temporal, itemId, cancelUpdate, [{ actorId }]);
}

/** Reopens an item that every annotator skipped. */
export function resetItem({ temporal }: AppDeps, itemId: string, actorId: string): Promise<ItemStatusResult> {
  return updateItem(temporal, itemId, resetUpdate, [{ actorId }]);
}

/** Pins items to people (manual assignment): add, remove, or set exactly these assignees; per item, the change or why not. */
export async function pinItems({ repos, temporal }: AppDeps, principal: Principal, queue: QueueRecord, body: AssignBody): Promise<AssignResult> {
  const annotators = annotatorsOf(queue);
  // Removing works for anyone (a former member's pin, say); only annotators of the queue can be given items.
  const strangers = body.action === 'remove' ? [] : body.userIds.filter((id) => !annotators.includes(id));
  if (strangers.length)
    throw validationError(`userIds: ${strangers.join(', ')} ${strangers.length > 1 ? 'are not annotators' : 'is not an annotator'} of this queue.`);
  const items = await repos.items.findItems(queue.id, body.itemIds.filter(isUuid));
  const unknown = body.itemIds.filter((id) => !items.some((i) => i.id === id));
  if (unknown.length) throw validationError(`itemIds: ${unknown.join(', ')} not in this queue.`);
  const result: AssignResult = { results: [], errors: [] };
  await runLimited(body.itemIds, 10, async (itemId) => {
    try {
      const changes = await updateItem(temporal, itemId, assignUpdate, [{ annotatorIds: body.userIds, action: body.action, actorId: principal.id }]);
      result.results.push({ itemId, ...changes });
    } catch (error) {
      const failure = fromTemporal(error);
      if (!(failure instanceof DomainError) || (failure.code !== 'CONFLICT' && failure.code !== 'VALIDATION')) throw failure;
      result.errors.push({ itemId, code: failure.code, message: failure.message });
    }
  });
  return result;
}
