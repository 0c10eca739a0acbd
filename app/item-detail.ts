import type { z } from 'zod';
import type { itemDetail } from '../domain/api.js';
import { ownLease } from '../domain/item.js';
import type { Principal } from '../domain/principals.js';
import type { ItemRecord } from '../infra/repositories/items/index.js';
import type { AppDeps } from './deps.js';
import type { QueueAccess } from './queue-access.js';

export function itemSummary(item: ItemRecord) {
  return {
    id: item.id,
    queueId: item.queueId,
    sourceType: item.sourceType,
    sourceId: item.sourceExternalId,
    priority: item.priority,
    status: item.status,
    annotationsRequired: item.seatsRequired,
    submittedCount: item.submittedCount,
    seats: item.seats,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

export type ItemDetail = z.input<typeof itemDetail>;

/** Everything an annotator needs on one item, with values filtered by the blind rule. */
export async function buildItemDetail({ repos }: AppDeps, principal: Principal, access: QueueAccess, item: ItemRecord): Promise<ItemDetail> {
  const [found, annotations, results] = await Promise.all([
    repos.sources.find(principal.workspaceId, item.sourceType, item.sourceExternalId),
    repos.scores.list(principal.workspaceId, { id: principal.id, isAdmin: access.isAdmin }, { queueItemId: item.id }, 500),
    item.status === 'completed' ? repos.items.results(item.id) : Promise.resolve([]),
  ]);
  const { internalId: _internal, ...source } = found!;
  const lease = ownLease(item.seats, principal.id, Date.now());
  return {
    item: itemSummary(item),
    source,
    labels: access.queue.labels,
    annotations,
    reservation: lease ? { expiresAt: new Date(lease.deadline).toISOString(), round: lease.round } : null,
    review: item.review,
    results,
  };
}

/** The detail of an item as it is now in Postgres (after a transition the workflow has made durable). */
export async function itemDetailNow(deps: AppDeps, principal: Principal, access: QueueAccess, itemId: string): Promise<ItemDetail> {
  const item = (await deps.repos.items.findItem(access.queue.id, itemId))!;
  return buildItemDetail(deps, principal, access, item);
}
