import { newId } from '../../domain/ids.js';
import { ITEM_STATUSES, type ItemStatus } from '../../domain/item.js';
import { ASSIGNMENT_STRATEGIES, QUEUE_ROLES, QUEUE_STATUSES, type AssignmentStrategy, type QueueRole, type QueueStatus } from '../../domain/queues.js';
import type { SourceType } from '../../domain/sources.js';
import type { Db } from '../db.js';
import { iso, isoOrNull, num, record, str, type Row } from './rows.js';
import { sourceType } from './sources.repo.js';

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

export interface ItemRecord {
  id: string;
  queueId: string;
  sourceId: string;
  sourceType: SourceType;
  sourceExternalId: string;
  priority: number;
  status: ItemStatus;
  version: number;
  seatsRequired: number;
  seatsOccupied: number;
  submittedCount: number;
  reservedBy: string[];
  assignedTo: string[];
  submittedBy: string[];
  reworkFor: string[];
  skippedBy: string[];
  seats: unknown[];
  review: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
}

const oneOf = <T extends string>(values: readonly T[], v: unknown, what: string): T => {
  const found = values.find((x) => x === v);
  if (!found) throw new TypeError(`unknown ${what} ${String(v)}`);
  return found;
};

const texts = (v: unknown): string[] => (Array.isArray(v) ? v.map(str) : []);

function toItem(row: Row): ItemRecord {
  return {
    id: str(row.id),
    queueId: str(row.queue_id),
    sourceId: str(row.source_id),
    sourceType: sourceType(row.source_type),
    sourceExternalId: str(row.source_external_id),
    priority: num(row.priority),
    status: oneOf(ITEM_STATUSES, row.status, 'item status'),
    version: num(row.version),
    seatsRequired: num(row.seats_required),
    seatsOccupied: num(row.seats_occupied),
    submittedCount: num(row.submitted_count),
    reservedBy: texts(row.reserved_by),
    assignedTo: texts(row.assigned_to),
    submittedBy: texts(row.submitted_by),
    reworkFor: texts(row.rework_for),
    skippedBy: texts(row.skipped_by),
    seats: Array.isArray(row.seats) ? row.seats : [],
    review: record(row.review),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    closedAt: isoOrNull(row.closed_at),
  };
}

/** A `next` candidate: `personal` when it is already the caller's; `rank` groups open items that tie on partial-first and priority. */
export interface NextCandidate {
  id: string;
  personal: boolean;
  rank: string;
}

export interface ItemFilter {
  status?: ItemStatus;
  assignee?: string;
  sourceType?: SourceType;
}

/** Queues, their labels and members, and reads of the item read model (which only the workflow writes). */
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

    /** New item rows; a source already in the queue is skipped by the unique constraint. */
    async insertItems(
      workspaceId: string,
      queueId: string,
      seatsRequired: number,
      entries: { sourceId: string; priority: number }[],
    ): Promise<Map<string, string>> {
      if (entries.length === 0) return new Map();
      const rows: Row[] = await db('queue_items')
        .insert(
          entries.map((e) => ({
            id: newId(),
            workspace_id: workspaceId,
            queue_id: queueId,
            source_id: e.sourceId,
            priority: e.priority,
            seats_required: seatsRequired,
          })),
        )
        .onConflict(['queue_id', 'source_id'])
        .ignore()
        .returning(['id', 'source_id']);
      return new Map(rows.map((r) => [str(r.source_id), str(r.id)]));
    },

    /** Items whose workflow never wrote its first snapshot (an interrupted add): re-adding starts them. */
    async unstartedItems(queueId: string, sourceIds: string[]): Promise<Map<string, string>> {
      if (sourceIds.length === 0) return new Map();
      const rows: Row[] = await db('queue_items').where({ queue_id: queueId, version: 0 }).whereIn('source_id', sourceIds).select('id', 'source_id');
      return new Map(rows.map((r) => [str(r.source_id), str(r.id)]));
    },

    async findItem(queueId: string, itemId: string): Promise<ItemRecord | null> {
      const row = await itemsQuery().where({ 'i.queue_id': queueId, 'i.id': itemId }).first();
      return row ? toItem(row) : null;
    },

    async findItems(queueId: string, itemIds: string[]): Promise<ItemRecord[]> {
      const rows: Row[] = await itemsQuery().where('i.queue_id', queueId).whereIn('i.id', itemIds);
      return rows.map(toItem);
    },

    async listItems(queueId: string, filter: ItemFilter, limit: number, cursor?: string): Promise<ItemRecord[]> {
      const query = itemsQuery()
        .where('i.queue_id', queueId)
        .orderBy('i.id')
        .limit(limit + 1);
      if (cursor) query.where('i.id', '>', cursor);
      if (filter.status) query.where('i.status', filter.status);
      if (filter.sourceType) query.where('s.type', filter.sourceType);
      if (filter.assignee) {
        query.whereRaw(
          '(? = any(i.assigned_to) or ? = any(i.reserved_by) or ? = any(i.submitted_by) or ? = any(i.rework_for))',
          Array(4).fill(filter.assignee),
        );
      }
      return ((await query) as Row[]).map(toItem);
    },

    /**
     * Candidates for `next`, best first: the caller's live reservation, then rework sent back to
     * them, then items assigned to them, then open items (partially annotated first, then priority,
     * then oldest). Never one they submitted or skipped. The workflow has the last word.
     */
    async nextCandidates(queueId: string, annotatorId: string, limit: number, exclude: string[]): Promise<NextCandidate[]> {
      const rows: Row[] = await db('queue_items as i')
        .where('i.queue_id', queueId)
        .whereIn('i.status', ['pending', 'in_progress', 'changes_requested'])
        .whereNotIn('i.id', exclude)
        .whereRaw('not (? = any(i.submitted_by)) and not (? = any(i.skipped_by))', [annotatorId, annotatorId])
        .whereRaw(
          `(? = any(i.reserved_by) or ? = any(i.rework_for) or ? = any(i.assigned_to) or (i.status <> 'changes_requested' and i.seats_occupied < i.seats_required))`,
          [annotatorId, annotatorId, annotatorId],
        )
        .orderByRaw(
          `(? = any(i.reserved_by)) desc, (? = any(i.rework_for)) desc, (? = any(i.assigned_to)) desc, (i.submitted_count > 0) desc, i.priority desc, i.id asc`,
          [annotatorId, annotatorId, annotatorId],
        )
        .limit(limit)
        .select(
          'i.id',
          'i.priority',
          'i.submitted_count',
          db.raw('(? = any(i.reserved_by) or ? = any(i.rework_for) or ? = any(i.assigned_to)) as personal', [annotatorId, annotatorId, annotatorId]),
        );
      return rows.map((r) => ({ id: str(r.id), personal: r.personal === true, rank: `${num(r.submitted_count) > 0 ? 1 : 0}:${num(r.priority)}` }));
    },

    async nextForReview(queueId: string, reviewerId: string): Promise<string | null> {
      const row = await db('queue_items as i')
        .where({ 'i.queue_id': queueId, 'i.status': 'pending_review' })
        .whereRaw('not (? = any(i.submitted_by))', [reviewerId])
        .whereRaw(`not exists (select 1 from scores s where s.queue_item_id = i.id and s.annotator_id = ?)`, [reviewerId])
        .orderBy([
          { column: 'i.priority', order: 'desc' },
          { column: 'i.id', order: 'asc' },
        ])
        .first('i.id');
      return row ? str(row.id) : null;
    },

    /** People holding a seat (assigned, reserved or in rework) on an open item who are not among these annotators. */
    async seatHoldersOutside(queueId: string, annotators: string[]): Promise<string[]> {
      const { rows } = await db.raw(
        `select distinct holder from queue_items, unnest(assigned_to || reserved_by || rework_for) as holder
         where queue_id = ? and status not in ('completed', 'cancelled') and not (holder = any(?::text[]))`,
        [queueId, annotators],
      );
      return (rows as Row[]).map((r) => str(r.holder));
    },

    async openItemIds(queueId: string): Promise<string[]> {
      const rows: Row[] = await db('queue_items').where({ queue_id: queueId }).whereNotIn('status', ['completed', 'cancelled']).select('id');
      return rows.map((r) => str(r.id));
    },

    async storedSubmission(annotatorId: string, idempotencyKey: string): Promise<{ bodyHash: string; response: unknown } | null> {
      const row = await db('submissions').where({ annotator_id: annotatorId, idempotency_key: idempotencyKey }).first('body_hash', 'response');
      return row ? { bodyHash: str(row.body_hash), response: row.response } : null;
    },

    async results(itemId: string): Promise<{ labelId: string; value: unknown; method: string; provenance: Record<string, unknown> }[]> {
      const rows: Row[] = await db('item_results').where({ item_id: itemId }).orderBy('label_id');
      return rows.map((r) => ({ labelId: str(r.label_id), value: r.value ?? null, method: str(r.method), provenance: record(r.provenance) }));
    },

    async history(itemId: string): Promise<{ at: string; event: string; actorId: string | null; details: Record<string, unknown> }[]> {
      // In the workflow's order (version, then position in that commit), not the order the rows landed in.
      const rows: Row[] = await db('item_events')
        .where({ item_id: itemId })
        .orderByRaw(`split_part(dedupe_key, ':', 2)::int, split_part(dedupe_key, ':', 3)::int`);
      return rows.map((r) => ({ at: iso(r.at), event: str(r.event), actorId: r.actor_id === null ? null : str(r.actor_id), details: record(r.details) }));
    },

    async progress(queueId: string) {
      const byStatus: Row[] = await db('queue_items').where({ queue_id: queueId }).groupBy('status').select('status', db.raw('count(*)::int as count'));
      const perAnnotator: Row[] = await db
        .raw(
          `select a.annotator_id,
           count(*) filter (where a.kind = 'assigned')::int as assigned,
           count(*) filter (where a.kind = 'reserved')::int as reserved,
           count(*) filter (where a.kind = 'submitted')::int as submitted,
           count(*) filter (where a.kind = 'skipped')::int as skipped
         from (
           select unnest(assigned_to) as annotator_id, 'assigned' as kind from queue_items where queue_id = ?
           union all select unnest(reserved_by), 'reserved' from queue_items where queue_id = ?
           union all select unnest(submitted_by), 'submitted' from queue_items where queue_id = ?
           union all select unnest(skipped_by), 'skipped' from queue_items where queue_id = ?
         ) a group by a.annotator_id`,
          [queueId, queueId, queueId, queueId],
        )
        .then((r: { rows: Row[] }) => r.rows);
      const activity: Row[] = await db('item_events as e')
        .join('queue_items as i', 'i.id', 'e.item_id')
        .where('i.queue_id', queueId)
        .whereNotNull('e.actor_id')
        .groupBy('e.actor_id')
        .select('e.actor_id', db.raw(`count(*) filter (where e.event = 'expired')::int as expired`), db.raw('max(e.at) as last_active'));
      return { byStatus, perAnnotator, activity };
    },
  };

  function itemsQuery() {
    return db('queue_items as i').join('sources as s', 's.id', 'i.source_id').select('i.*', 's.type as source_type', 's.external_id as source_external_id');
  }
}

export type QueuesRepo = ReturnType<typeof createQueuesRepo>;
