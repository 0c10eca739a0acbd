import { forbidden, notFound } from '../domain/errors.js';
import { isUuid } from '../domain/ids.js';
import type { Principal } from '../domain/principals.js';
import type { QueueRole } from '../domain/queues.js';
import type { Repos } from '../infra/repositories/index.js';
import type { ItemRecord } from '../infra/repositories/items/index.js';
import type { QueueRecord } from '../infra/repositories/queues.repo.js';

/** Who may do what on a queue (DESIGN.md §3): the caller's roles on it, and whether they are a workspace admin. */
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
  const item = isUuid(itemId) ? await repos.items.findItem(access.queue.id, itemId) : null;
  if (!item) throw notFound(`Item ${itemId} was not found in queue ${access.queue.id}.`);
  return item;
}

/** The queue and item of an item route, once the caller's role on the queue is checked. */
export async function loadItemAs(repos: Repos, principal: Principal, queueId: string, itemId: string, role: QueueRole) {
  const access = await loadQueue(repos, principal, queueId);
  requireRole(access, role);
  return { access, item: await loadItem(repos, access, itemId) };
}

export const annotatorsOf = (queue: QueueRecord) => queue.members.filter((m) => m.roles.includes('annotator')).map((m) => m.userId);
