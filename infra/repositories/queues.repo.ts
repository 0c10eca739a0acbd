import { newId } from '../../domain/ids.js';
import { ASSIGNMENT_STRATEGIES, QUEUE_ROLES, QUEUE_STATUSES, type AssignmentStrategy, type QueueRole, type QueueStatus } from '../../domain/queues.js';
import type { Db } from '../db.js';
import { iso, num, oneOf, str, texts, type Row } from './rows.js';

export interface QueueLabel {
  labelId: string;
  key: string;
  name: string;
  type: string;
  required: boolean;
}

export interface QueueMember {
  userId: string;
  roles: QueueRole[];
}

export interface QueueSettings {
  name: string;
  description: string;
  instructions: string;
  assignmentStrategy: AssignmentStrategy;
  annotationsRequired: number;
  reservationTimeoutSeconds: number;
  requiresReview: boolean;
}

export interface QueueRecord extends QueueSettings {
  id: string;
  status: QueueStatus;
  labels: QueueLabel[];
  members: QueueMember[];
  createdAt: string;
  updatedAt: string;
}

/** Queues, their labels and members. Their items are in items/. */
export function createQueuesRepo(db: Db) {
  async function load(workspaceId: string, ids: string[]): Promise<QueueRecord[]> {
    if (ids.length === 0) return [];
    const [rows, labels, members] = await Promise.all([
      db('queues').where({ workspace_id: workspaceId }).whereIn('id', ids).whereNull('deleted_at').orderBy('id') as Promise<Row[]>,
      db('queue_labels as ql')
        .join('labels as l', 'l.id', 'ql.label_id')
        .whereIn('ql.queue_id', ids)
        .orderBy('ql.position')
        .select('ql.queue_id', 'ql.label_id', 'ql.required', 'l.key', 'l.name', 'l.type') as Promise<Row[]>,
      db('queue_members').whereIn('queue_id', ids).orderBy('principal_id') as Promise<Row[]>,
    ]);
    return rows.map((r) => ({
      id: str(r.id),
      name: str(r.name),
      description: str(r.description),
      instructions: str(r.instructions),
      assignmentStrategy: oneOf(ASSIGNMENT_STRATEGIES, r.assignment_strategy, 'strategy'),
      annotationsRequired: num(r.annotations_required),
      reservationTimeoutSeconds: num(r.reservation_timeout_seconds),
      requiresReview: r.requires_review === true,
      status: oneOf(QUEUE_STATUSES, r.status, 'queue status'),
      labels: labels
        .filter((l) => l.queue_id === r.id)
        .map((l) => ({
          labelId: str(l.label_id),
          key: str(l.key),
          name: str(l.name),
          type: str(l.type),
          required: l.required === true,
        })),
      members: members
        .filter((m) => m.queue_id === r.id)
        .map((m) => ({
          userId: str(m.principal_id),
          roles: texts(m.roles).map((x) => oneOf(QUEUE_ROLES, x, 'queue role')),
        })),
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    }));
  }

  async function replaceLabels(trx: Db, queueId: string, labels: { labelId: string; required: boolean }[]) {
    await trx('queue_labels').where({ queue_id: queueId }).delete();
    if (labels.length)
      await trx('queue_labels').insert(labels.map((l, position) => ({ queue_id: queueId, label_id: l.labelId, required: l.required, position })));
  }

  async function replaceMembers(trx: Db, queueId: string, members: QueueMember[]) {
    await trx('queue_members').where({ queue_id: queueId }).delete();
    if (members.length) await trx('queue_members').insert(members.map((m) => ({ queue_id: queueId, principal_id: m.userId, roles: m.roles })));
  }

  return {
    async create(workspaceId: string, settings: QueueSettings, labels: { labelId: string; required: boolean }[], members: QueueMember[]): Promise<QueueRecord> {
      const id = newId();
      await db.transaction(async (trx) => {
        await trx('queues').insert({
          id,
          workspace_id: workspaceId,
          name: settings.name,
          description: settings.description,
          instructions: settings.instructions,
          assignment_strategy: settings.assignmentStrategy,
          annotations_required: settings.annotationsRequired,
          reservation_timeout_seconds: settings.reservationTimeoutSeconds,
          requires_review: settings.requiresReview,
        });
        await replaceLabels(trx, id, labels);
        await replaceMembers(trx, id, members);
      });
      return (await load(workspaceId, [id]))[0]!;
    },

    async find(workspaceId: string, id: string): Promise<QueueRecord | null> {
      return (await load(workspaceId, [id]))[0] ?? null;
    },

    /** Queues the caller can see: all for admins, else those they are a member of. */
    async list(workspaceId: string, viewer: { id: string; isAdmin: boolean }, limit: number, cursor?: string): Promise<QueueRecord[]> {
      const query = db('queues')
        .where({ workspace_id: workspaceId })
        .whereNull('deleted_at')
        .orderBy('id')
        .limit(limit + 1)
        .select('id');
      if (cursor) query.where('id', '>', cursor);
      if (!viewer.isAdmin) query.whereIn('id', db('queue_members').where({ principal_id: viewer.id }).select('queue_id'));
      const ids = ((await query) as Row[]).map((r) => str(r.id));
      return load(workspaceId, ids);
    },

    async update(
      workspaceId: string,
      id: string,
      patch: Partial<QueueSettings> & { labels?: { labelId: string; required: boolean }[]; members?: QueueMember[] },
    ): Promise<QueueRecord> {
      await db.transaction(async (trx) => {
        await trx('queues')
          .where({ workspace_id: workspaceId, id })
          .update({
            ...(patch.name !== undefined && { name: patch.name }),
            ...(patch.description !== undefined && { description: patch.description }),
            ...(patch.instructions !== undefined && { instructions: patch.instructions }),
            ...(patch.assignmentStrategy !== undefined && { assignment_strategy: patch.assignmentStrategy }),
            ...(patch.annotationsRequired !== undefined && { annotations_required: patch.annotationsRequired }),
            ...(patch.reservationTimeoutSeconds !== undefined && { reservation_timeout_seconds: patch.reservationTimeoutSeconds }),
            ...(patch.requiresReview !== undefined && { requires_review: patch.requiresReview }),
            updated_at: trx.fn.now(),
          });
        if (patch.labels) await replaceLabels(trx, id, patch.labels);
        if (patch.members) await replaceMembers(trx, id, patch.members);
      });
      return (await load(workspaceId, [id]))[0]!;
    },

    /** Compare-and-set, so two concurrent transitions cannot both pass the table's check. */
    async setStatus(workspaceId: string, id: string, from: QueueStatus, to: QueueStatus): Promise<boolean> {
      const updated = await db('queues').where({ workspace_id: workspaceId, id, status: from }).update({ status: to, updated_at: db.fn.now() });
      return updated > 0;
    },

    async softDelete(workspaceId: string, id: string): Promise<void> {
      await db('queues').where({ workspace_id: workspaceId, id }).update({ deleted_at: db.fn.now() });
    },
  };
}

export type QueuesRepo = ReturnType<typeof createQueuesRepo>;
