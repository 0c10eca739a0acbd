import type { z } from 'zod';
import type { itemDetail } from '../domain/api.js';
import { forbidden, notFound } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';
import type { Principal } from '../domain/principals.js';
import type { QueueRole } from '../domain/queues.js';
import type { Repos } from '../infra/repositories/index.js';
import type { ItemRecord, QueueRecord } from '../infra/repositories/queues.repo.js';

export interface QueueAccess {
  queue: QueueRecord;
  roles: QueueRole[];
  isAdmin: boolean;
}

/** The queue as the caller may see it: a queue of another workspace, or one they are not in, is a 404. */
export async function loadQueue(repos: Repos, principal: Principal, queueId: string): Promise<QueueAccess> {
  const queue = isUuid(queueId) ? await repos.queues.find(principal.workspaceId, queueId) : null;
  const roles = queue?.members.find((m) => m.userId === principal.id)?.roles ?? [];
  const isAdmin = principal.role === 'admin';
  if (!queue || (!isAdmin && roles.length === 0)) throw notFound(`Queue ${queueId} was not found.`);
  return { queue, roles, isAdmin };
}

const ROLE_NAMES: Record<QueueRole, string> = { annotator: 'an annotator', reviewer: 'a reviewer', manager: 'a manager' };

/** Managers may also be workspace admins; annotating and reviewing need the queue role itself. */
export function requireRole(access: QueueAccess, role: QueueRole): void {
  if (access.roles.includes(role)) return;
  if (role === 'manager' && access.isAdmin) return;
  throw forbidden(`This action needs ${ROLE_NAMES[role]} of this queue.`);
}

export async function loadItem(repos: Repos, access: QueueAccess, itemId: string): Promise<ItemRecord> {
  const item = isUuid(itemId) ? await repos.queues.findItem(access.queue.id, itemId) : null;
  if (!item) throw notFound(`Item ${itemId} was not found in queue ${access.queue.id}.`);
  return item;
}

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
    seats: item.seats as z.output<typeof itemDetail>['item']['seats'],
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

/** Everything an annotator needs on one item, with values filtered by the blind rule. */
export async function buildItemDetail(repos: Repos, principal: Principal, access: QueueAccess, item: ItemRecord): Promise<z.input<typeof itemDetail>> {
  const [found, annotations, results] = await Promise.all([
    repos.sources.find(principal.workspaceId, item.sourceType, item.sourceExternalId),
    repos.scores.list(principal.workspaceId, { id: principal.id, isAdmin: access.isAdmin }, { queueItemId: item.id }, 500),
    item.status === 'completed' ? repos.queues.results(item.id) : Promise.resolve([]),
  ]);
  const { internalId: _internal, ...source } = found!;
  const lease = ownLease(item, principal.id);
  return {
    item: itemSummary(item),
    source,
    labels: access.queue.labels,
    annotations,
    reservation: lease ? { expiresAt: new Date(lease.expiresAt).toISOString(), round: lease.round } : null,
    review: item.review,
    results,
  };
}

/** The caller's running lease on an item (a reservation, or rework being worked on), from the read model. */
export function ownLease(item: ItemRecord, annotatorId: string): { expiresAt: number; round: number } | null {
  const seat = item.seats.find((s) => (s as { annotatorId?: string }).annotatorId === annotatorId) as
    { state: string; expiresAt: string | null; round: number } | undefined;
  if (!seat || !seat.expiresAt || (seat.state !== 'reserved' && seat.state !== 'rework')) return null;
  const expiresAt = Date.parse(seat.expiresAt);
  return expiresAt > Date.now() ? { expiresAt, round: seat.round } : null;
}
