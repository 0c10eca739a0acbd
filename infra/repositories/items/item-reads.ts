import { CLOSED_STATUSES } from '../../../domain/item.js';
import type { Db } from '../../db.js';
import { iso, num, record, str, type Row } from '../rows.js';
import { toItem, type ItemFilter, type ItemRecord, type NextCandidate } from './item-record.js';

/** Every read of an item's tables: the read model the item workflow writes, its timeline, results and idempotency records. */
export function createItemReads(db: Db) {
  function itemsQuery() {
    return db('queue_items as i').join('sources as s', 's.id', 'i.source_id').select('i.*', 's.type as source_type', 's.external_id as source_external_id');
  }

  return {
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
         where queue_id = ? and not (status = any(?::text[])) and not (holder = any(?::text[]))`,
        [queueId, [...CLOSED_STATUSES], annotators],
      );
      return (rows as Row[]).map((r) => str(r.holder));
    },

    async openItemIds(queueId: string): Promise<string[]> {
      const rows: Row[] = await db('queue_items').where({ queue_id: queueId }).whereNotIn('status', CLOSED_STATUSES).select('id');
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
}
