import type { z } from 'zod';
import * as api from '../../domain/api.js';
import { DomainError, validationError } from '../../domain/errors.js';
import { isUuid } from '../../domain/ids.js';
import type { ItemConfig } from '../../domain/item.js';
import type { Principal } from '../../domain/principals.js';
import { assertQueueTransition, type QueueRole } from '../../domain/queues.js';
import type { Repos } from '../../infra/repositories/index.js';
import type { QueueMember, QueueRecord } from '../../infra/repositories/queues.repo.js';
import { isoOrNull, pageOf } from '../../infra/repositories/rows.js';
import { sourceKey } from '../../infra/repositories/sources.repo.js';
import { classifyTemporalError, REQUEST_DEADLINE_MS, type TemporalDeps } from '../../infra/temporal.js';
import {
  assignUpdate,
  cancelUpdate,
  itemWorkflowId,
  membersChangedSignal,
  SEARCH_ATTRIBUTE_KEYS,
  type ItemWorkflowInput,
} from '../../workflows/definitions.js';
import { requireAdmin } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { endpoint } from '../endpoint.js';
import { updateItem, rejectionCode } from '../item-calls.js';
import { itemSummary, loadQueue, requireRole } from '../queue-access.js';

type QueueBody = z.output<typeof api.updateQueueBody>;

async function resolveLabels(repos: Repos, principal: Principal, input: NonNullable<QueueBody['labels']>) {
  const found = await repos.labels.findMany(
    principal.workspaceId,
    input.map((l) => l.label),
  );
  const missing = input.filter((l) => !found.get(l.label) || found.get(l.label)!.archived).map((l) => l.label);
  if (missing.length) throw validationError(`labels: unknown or archived label(s) ${missing.join(', ')}.`);
  const ids = input.map((l) => found.get(l.label)!.id);
  if (new Set(ids).size !== ids.length) throw validationError('labels: each label may appear once.');
  return input.map((l, i) => ({ labelId: ids[i]!, required: l.required }));
}

async function resolveMembers(repos: Repos, principal: Principal, input: NonNullable<QueueBody['members']>): Promise<QueueMember[]> {
  const ids = input.map((m) => m.userId);
  if (new Set(ids).size !== ids.length) throw validationError('members: each user may appear once; list all their roles together.');
  const known = await repos.principals.existing(principal.workspaceId, ids);
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length) throw validationError(`members: no user ${unknown.join(', ')} in this workspace.`);
  return input.map((m) => ({ userId: m.userId, roles: [...new Set(m.roles)] as QueueRole[] }));
}

const annotatorsOf = (queue: QueueRecord) => queue.members.filter((m) => m.roles.includes('annotator')).map((m) => m.userId);

export function itemConfigOf(queue: QueueRecord): ItemConfig {
  return {
    annotationsRequired: queue.annotationsRequired,
    reservationTimeoutMs: queue.reservationTimeoutSeconds * 1000,
    requiresReview: queue.requiresReview,
    assignmentStrategy: queue.assignmentStrategy,
    labels: queue.labels.map((l) => ({ labelId: l.labelId, key: l.key, required: l.required })),
  };
}

/** Tells every open item of the queue who may annotate now, and who left (their seats are freed). */
async function signalMembership(repos: Repos, temporal: TemporalDeps, queue: QueueRecord, removed: string[]): Promise<void> {
  const itemIds = await repos.queues.openItemIds(queue.id);
  const eligibleAnnotators = annotatorsOf(queue);
  const deadline = Date.now() + REQUEST_DEADLINE_MS;
  await runLimited(itemIds, 20, (itemId) =>
    temporal.client
      .withDeadline(deadline, () => temporal.client.workflow.getHandle(itemWorkflowId(itemId)).signal(membersChangedSignal, { eligibleAnnotators, removed }))
      .catch((error) => {
        // An item that closed meanwhile has no workflow to tell; Temporal being down is the caller's 503.
        if (classifyTemporalError(error)) throw error;
      }),
  );
}

export async function runLimited<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}

export function queueEndpoints({ repos, temporal }: ApiDeps) {
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
        const labels = await resolveLabels(repos, principal, body.labels ?? []);
        const members = await resolveMembers(repos, principal, body.members ?? []);
        return repos.queues.create(
          principal.workspaceId,
          {
            name: body.name,
            description: body.description ?? '',
            instructions: body.instructions ?? '',
            assignmentStrategy: body.assignmentStrategy ?? 'manual',
            annotationsRequired: body.annotationsRequired ?? 1,
            reservationTimeoutSeconds: body.reservationTimeoutSeconds ?? 1800,
            requiresReview: body.requiresReview ?? false,
          },
          labels,
          members,
        );
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
        const labels = body.labels ? await resolveLabels(repos, principal, body.labels) : undefined;
        const members = body.members ? await resolveMembers(repos, principal, body.members) : undefined;
        const queue = await repos.queues.update(principal.workspaceId, access.queue.id, { ...body, labels, members });
        if (members) {
          // Who to free comes from the items themselves, not a before/after diff, so a PATCH retried after a failed signal still frees them.
          const removed = await repos.queues.seatHoldersOutside(queue.id, annotatorsOf(queue));
          await signalMembership(repos, temporal, queue, removed);
        }
        return queue;
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
        await runLimited(await repos.queues.openItemIds(queue.id), 20, async (itemId) => {
          // An item that closed meanwhile needs no cancelling.
          await cancelItem(temporal, itemId, principal.id).catch((error) => {
            if (rejectionCode(error) !== 'CONFLICT') throw error;
          });
        });
        await repos.queues.softDelete(principal.workspaceId, queue.id);
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
        const from = access.queue.status;
        if (from === body.status) return access.queue;
        assertQueueTransition(from, body.status);
        if (!(await repos.queues.setStatus(principal.workspaceId, access.queue.id, from, body.status))) {
          throw new DomainError('CONFLICT', 'The queue status changed meanwhile; read it again and retry.');
        }
        return (await repos.queues.find(principal.workspaceId, access.queue.id))!;
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
        const { queue } = access;
        const result: z.output<typeof api.addItemsResponse> = { added: [], duplicates: [], errors: [] };
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
        const inserted = await repos.queues.insertItems(principal.workspaceId, queue.id, queue.annotationsRequired, wanted);
        // An earlier add that stopped before its workflow started left a row at version 0: start it now.
        const unstarted = await repos.queues.unstartedItems(
          queue.id,
          wanted.filter((w) => !inserted.has(w.sourceId)).map((w) => w.sourceId),
        );
        const toStart = wanted.flatMap((w) => {
          const itemId = inserted.get(w.sourceId) ?? unstarted.get(w.sourceId);
          return itemId ? [{ ...w, itemId }] : [];
        });
        const config = itemConfigOf(queue);
        const eligibleAnnotators = annotatorsOf(queue);
        const deadline = Date.now() + 30_000;
        const failed: string[] = [];
        // A row this request did not insert whose workflow turns out to be running: another add got there first.
        const alreadyRunning = new Set<string>();
        await runLimited(toStart, 25, async (entry) => {
          const input: ItemWorkflowInput = { itemId: entry.itemId, workspaceId: principal.workspaceId, queueId: queue.id, config, eligibleAnnotators };
          try {
            await temporal.client.withDeadline(deadline, () =>
              temporal.client.workflow.start('itemWorkflow', {
                taskQueue: temporal.taskQueue,
                workflowId: itemWorkflowId(entry.itemId),
                args: [input],
                typedSearchAttributes: [
                  { key: SEARCH_ATTRIBUTE_KEYS.workspaceId, value: principal.workspaceId },
                  { key: SEARCH_ATTRIBUTE_KEYS.queueId, value: queue.id },
                  { key: SEARCH_ATTRIBUTE_KEYS.itemStatus, value: 'pending' },
                ],
              }),
            );
          } catch (error) {
            if ((error as Error).name !== 'WorkflowExecutionAlreadyStartedError') failed.push(entry.itemId);
            else if (!inserted.has(entry.sourceId)) alreadyRunning.add(entry.itemId);
          }
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
        const rows = await repos.queues.listItems(queue.id, query, query.limit, query.cursor);
        const page = pageOf(rows, query.limit);
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
        const annotators = annotatorsOf(access.queue);
        // Removing works for anyone (a former member's pin, say); only annotators of the queue can be given items.
        const strangers = body.action === 'remove' ? [] : body.userIds.filter((id) => !annotators.includes(id));
        if (strangers.length)
          throw validationError(`userIds: ${strangers.join(', ')} ${strangers.length > 1 ? 'are not annotators' : 'is not an annotator'} of this queue.`);
        const items = await repos.queues.findItems(access.queue.id, body.itemIds.filter(isUuid));
        const unknown = body.itemIds.filter((id) => !items.some((i) => i.id === id));
        if (unknown.length) throw validationError(`itemIds: ${unknown.join(', ')} not in this queue.`);
        const result: z.output<typeof api.assignResponse> = { results: [], errors: [] };
        await runLimited(body.itemIds, 10, async (itemId) => {
          try {
            const changes = await updateItem(temporal, itemId, assignUpdate, [{ annotatorIds: body.userIds, action: body.action, actorId: principal.id }]);
            result.results.push({ itemId, ...changes });
          } catch (error) {
            const code = rejectionCode(error);
            if (code !== 'CONFLICT' && code !== 'VALIDATION') throw error;
            result.errors.push({
              itemId,
              code,
              message: (error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message,
            });
          }
        });
        return result;
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
        const { byStatus, perAnnotator, activity } = await repos.queues.progress(queue.id);
        const counts = Object.fromEntries(byStatus.map((r) => [String(r.status), Number(r.count)]));
        const ids = new Set([...annotatorsOf(queue), ...perAnnotator.map((r) => String(r.annotator_id))]);
        const row = (id: string) => {
          const p = perAnnotator.find((r) => r.annotator_id === id);
          const a = activity.find((r) => r.actor_id === id);
          return {
            annotatorId: id,
            assigned: Number(p?.assigned ?? 0),
            reserved: Number(p?.reserved ?? 0),
            submitted: Number(p?.submitted ?? 0),
            skipped: Number(p?.skipped ?? 0),
            expired: Number(a?.expired ?? 0),
            lastActiveAt: isoOrNull(a?.last_active),
          };
        };
        return {
          total: Object.values(counts).reduce((s, n) => s + n, 0),
          byStatus: counts,
          annotators: [...ids].sort().map(row),
          mine: row(principal.id),
        };
      },
    }),
  ];
}

export async function cancelItem(temporal: TemporalDeps, itemId: string, actorId: string) {
  return updateItem(temporal, itemId, cancelUpdate, [{ actorId }]);
}
