import type { z } from 'zod';
import type * as api from '../domain/api.js';
import { DomainError, validationError } from '../domain/errors.js';
import type { Principal } from '../domain/principals.js';
import { assertQueueTransition, type QueueRole, type QueueStatus } from '../domain/queues.js';
import type { Repos } from '../infra/repositories/index.js';
import type { QueueMember, QueueRecord } from '../infra/repositories/queues.repo.js';
import type { AppDeps } from './deps.js';
import { cancelItem } from './item-management.js';
import { rejectionCode, signalMembersChanged } from './item-workflows.js';
import { annotatorsOf } from './queue-access.js';
import { runLimited } from './run-limited.js';

type CreateQueueBody = z.output<typeof api.createQueueBody>;
type UpdateQueueBody = z.output<typeof api.updateQueueBody>;

async function resolveLabels(repos: Repos, principal: Principal, input: NonNullable<UpdateQueueBody['labels']>) {
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

async function resolveMembers(repos: Repos, principal: Principal, input: NonNullable<UpdateQueueBody['members']>): Promise<QueueMember[]> {
  const ids = input.map((m) => m.userId);
  if (new Set(ids).size !== ids.length) throw validationError('members: each user may appear once; list all their roles together.');
  const known = await repos.principals.existing(principal.workspaceId, ids);
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length) throw validationError(`members: no user ${unknown.join(', ')} in this workspace.`);
  return input.map((m) => ({ userId: m.userId, roles: [...new Set(m.roles)] as QueueRole[] }));
}

export async function createQueue({ repos }: AppDeps, principal: Principal, body: CreateQueueBody): Promise<QueueRecord> {
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
}

/** Settings apply to items added afterwards; a membership change is told to every open item, whose seats held by leavers are freed. */
export async function updateQueue(deps: AppDeps, principal: Principal, queue: QueueRecord, body: UpdateQueueBody): Promise<QueueRecord> {
  const { repos } = deps;
  const labels = body.labels ? await resolveLabels(repos, principal, body.labels) : undefined;
  const members = body.members ? await resolveMembers(repos, principal, body.members) : undefined;
  const updated = await repos.queues.update(principal.workspaceId, queue.id, { ...body, labels, members });
  if (members) await tellMembership(deps, updated);
  return updated;
}

/** Tells every open item of the queue who may annotate now, and who left (their seats are freed). */
async function tellMembership({ repos, temporal }: AppDeps, queue: QueueRecord): Promise<void> {
  const eligibleAnnotators = annotatorsOf(queue);
  // Who to free comes from the items themselves, not a before/after diff, so a PATCH retried after a failed signal still frees them.
  const removed = await repos.items.seatHoldersOutside(queue.id, eligibleAnnotators);
  const itemIds = await repos.items.openItemIds(queue.id);
  const deadline = Date.now() + temporal.requestDeadlineMs;
  await runLimited(itemIds, 20, (itemId) => signalMembersChanged(temporal, itemId, { eligibleAnnotators, removed }, deadline));
}

/** Cancels the queue's open items (scores stay), then deletes it (soft). */
export async function deleteQueue(deps: AppDeps, principal: Principal, queue: QueueRecord): Promise<void> {
  await runLimited(await deps.repos.items.openItemIds(queue.id), 20, async (itemId) => {
    // An item that closed meanwhile needs no cancelling.
    await cancelItem(deps, itemId, principal.id).catch((error) => {
      if (rejectionCode(error) !== 'CONFLICT') throw error;
    });
  });
  await deps.repos.queues.softDelete(principal.workspaceId, queue.id);
}

/** Moves a queue through DESIGN.md §3's table; compare-and-set, so two concurrent transitions cannot both pass it. */
export async function setQueueStatus({ repos }: AppDeps, principal: Principal, queue: QueueRecord, to: QueueStatus): Promise<QueueRecord> {
  if (queue.status === to) return queue;
  assertQueueTransition(queue.status, to);
  if (!(await repos.queues.setStatus(principal.workspaceId, queue.id, queue.status, to))) {
    throw new DomainError('CONFLICT', 'The queue status changed meanwhile; read it again and retry.');
  }
  return (await repos.queues.find(principal.workspaceId, queue.id))!;
}
