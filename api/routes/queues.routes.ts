import * as api from '../../domain/api.js';
import { addItems } from '../../app/add-items.js';
import type { AppDeps } from '../../app/deps.js';
import { itemSummary } from '../../app/item-detail.js';
import { pinItems } from '../../app/item-management.js';
import { loadQueue, requireRole } from '../../app/queue-access.js';
import { queueProgress } from '../../app/queue-progress.js';
import { createQueue, deleteQueue, setQueueStatus, updateQueue } from '../../app/queues.js';
import { pageOf } from '../../infra/repositories/rows.js';
import { requireAdmin } from '../auth.js';
import { endpoint } from '../endpoint.js';

export function queueEndpoints(deps: AppDeps) {
  const { repos } = deps;
  return [
    endpoint({
      method: 'post',
      path: '/api/v1/queues',
      tag: 'queues',
      summary: 'Create a queue (admin). Status starts as draft.',
      body: api.createQueueBody,
      status: 201,
      response: api.queue,
      handler: async ({ principal, body }) => {
        requireAdmin(principal);
        return createQueue(deps, principal, body);
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/queues',
      tag: 'queues',
      summary: 'Queues the caller belongs to (all of them for admins)',
      query: api.listQuery,
      status: 200,
      response: api.page(api.queue),
      handler: async ({ principal, query }) =>
        pageOf(
          await repos.queues.list(principal.workspaceId, { id: principal.id, isAdmin: principal.role === 'admin' }, query.limit, query.cursor),
          query.limit,
        ),
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/queues/:id',
      tag: 'queues',
      summary: 'One queue',
      status: 200,
      response: api.queue,
      handler: async ({ principal, params }) => (await loadQueue(repos, principal, params.id!)).queue,
    }),
    endpoint({
      method: 'patch',
      path: '/api/v1/queues/:id',
      tag: 'queues',
      summary: 'Change a queue (manager or admin). Settings apply to items added afterwards; removing a member frees the seats they hold.',
      body: api.updateQueueBody,
      status: 200,
      response: api.queue,
      handler: async ({ principal, params, body }) => {
        const access = await loadQueue(repos, principal, params.id!);
        requireRole(access, 'manager');
        return updateQueue(deps, principal, access.queue, body);
      },
    }),
    endpoint({
      method: 'delete',
      path: '/api/v1/queues/:id',
      tag: 'queues',
      summary: 'Delete a queue (admin): its open items are cancelled; scores stay',
      status: 204,
      handler: async ({ principal, params }) => {
        requireAdmin(principal);
        const { queue } = await loadQueue(repos, principal, params.id!);
        await deleteQueue(deps, principal, queue);
        return undefined;
      },
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/queues/:id/status',
      tag: 'queues',
      summary: 'Move a queue between draft, active, paused and completed (manager or admin); 409 INVALID_TRANSITION names the allowed targets',
      body: api.queueStatusBody,
      status: 200,
      response: api.queue,
      handler: async ({ principal, params, body }) => {
        const access = await loadQueue(repos, principal, params.id!);
        requireRole(access, 'manager');
        return setQueueStatus(deps, principal, access.queue, body.status);
      },
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/queues/:id/items',
      tag: 'items',
      summary:
        'Add up to 1000 sources as items (manager or admin): one workflow each. Per entry: added, duplicates (already in the queue), errors (unknown source).',
      body: api.addItemsBody,
      status: 200,
      response: api.addItemsResponse,
      handler: async ({ principal, params, body }) => {
        const access = await loadQueue(repos, principal, params.id!);
        requireRole(access, 'manager');
        return addItems(deps, principal, access.queue, body);
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/queues/:id/items',
      tag: 'items',
      summary: 'Items of a queue, filtered by status, assignee or source type',
      query: api.itemListQuery,
      status: 200,
      response: api.page(api.itemSummary),
      handler: async ({ principal, params, query }) => {
        const { queue } = await loadQueue(repos, principal, params.id!);
        const page = pageOf(await repos.items.listItems(queue.id, query, query.limit, query.cursor), query.limit);
        return { data: page.data.map(itemSummary), nextCursor: page.nextCursor };
      },
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/queues/:id/items/assign',
      tag: 'items',
      summary: 'Pin items to people (manager or admin): add, remove, or set exactly these assignees',
      body: api.assignBody,
      status: 200,
      response: api.assignResponse,
      handler: async ({ principal, params, body }) => {
        const access = await loadQueue(repos, principal, params.id!);
        requireRole(access, 'manager');
        return pinItems(deps, principal, access.queue, body);
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/queues/:id/progress',
      tag: 'queues',
      summary: "Counts by status, per annotator, and the caller's own progress",
      status: 200,
      response: api.progressResponse,
      handler: async ({ principal, params }) => {
        const { queue } = await loadQueue(repos, principal, params.id!);
        return queueProgress(deps, principal.id, queue);
      },
    }),
  ];
}
