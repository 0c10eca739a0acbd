import { typedValueColumns, type LabelType, type LabelValue } from '../../../domain/labels.js';
import { CLOSED_STATUSES, isClosedStatus, type ItemConfig, type ItemEvent, type ItemReadModel, type ReviewOverride } from '../../../domain/item.js';
import { newId } from '../../../domain/ids.js';
import { resolveLabel } from '../../../domain/resolve.js';
import type { AssignmentStrategy } from '../../../domain/queues.js';
import type { Db } from '../../db.js';
import { str, type Row } from '../rows.js';

/** A submission's scores and its idempotency record, written with the snapshot that acknowledges it. */
export interface SubmissionWrite {
  annotatorId: string;
  round: number;
  scores: { id: string; labelId: string; labelVersion: number; value: LabelValue; notes: string | null }[];
  idempotencyKey: string;
  bodyHash: string;
  response: unknown;
}

export interface PersistItemInput {
  workspaceId: string;
  snapshot: ItemReadModel;
  events: (ItemEvent & { dedupeKey: string })[];
  submission?: SubmissionWrite;
  /** Resolve every label of the queue on the current rounds (the item is being completed); a reviewer's override wins. */
  finalize?: { reviewerId: string | null; overrides: ReviewOverride[]; labelIds: string[] };
}

/**
 * Every write to an item's tables (queue_items, item_events, item_results, submissions,
 * assignment_turns): the add request's new rows, and the item workflow's transitions, each
 * idempotent so a retried activity changes nothing more. docs/adr/0002 says why there is one writer.
 */
export function createItemWrites(db: Db) {
  return {
    /** New item rows (no workflow yet: version 0); a source already in the queue is skipped by the unique constraint. */
    async insertItems(
      workspaceId: string,
      queueId: string,
      config: ItemConfig,
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
            seats_required: config.annotationsRequired,
            reservation_timeout_ms: config.reservationTimeoutMs,
          })),
        )
        .onConflict(['queue_id', 'source_id'])
        .ignore()
        .returning(['id', 'source_id']);
      return new Map(rows.map((r) => [str(r.source_id), str(r.id)]));
    },

    /**
     * One transition in one transaction: a submission's scores, the finalized results, the versioned
     * read model (`where version < new`: retries and reordering never move it backwards) and the
     * timeline rows (deduplicated by key). A retried activity inserts nothing new.
     */
    async persist({ workspaceId, snapshot, events, submission, finalize }: PersistItemInput): Promise<void> {
      await db.transaction(async (trx) => {
        if (submission) await writeSubmission(trx, workspaceId, snapshot.itemId, submission);
        if (finalize) await writeResults(trx, snapshot.itemId, finalize.labelIds, finalize.reviewerId, finalize.overrides);
        await trx('queue_items')
          .where({ id: snapshot.itemId })
          .where('version', '<', snapshot.version)
          .update({
            version: snapshot.version,
            status: snapshot.status,
            seats_occupied: snapshot.seatsOccupied,
            submitted_count: snapshot.submittedCount,
            reserved_by: snapshot.reservedBy,
            assigned_to: snapshot.assignedTo,
            submitted_by: snapshot.submittedBy,
            rework_for: snapshot.reworkFor,
            skipped_by: snapshot.skippedBy,
            seats: JSON.stringify(snapshot.seats),
            review: JSON.stringify(snapshot.review),
            updated_at: trx.fn.now(),
            closed_at: isClosedStatus(snapshot.status) ? trx.raw('coalesce(closed_at, now())') : null,
          });
        if (isClosedStatus(snapshot.status)) {
          // The queue completes when its last open item closes (an active queue only: a paused one waits for its manager).
          // Its row lock makes two items closing at once see each other's commit.
          await trx.raw('select 1 from queues where id = (select queue_id from queue_items where id = ?) for update', [snapshot.itemId]);
          await trx.raw(
            `update queues q set status = 'completed', updated_at = now()
             from queue_items i
             where i.id = ? and q.id = i.queue_id and q.status = 'active'
               and not exists (select 1 from queue_items o where o.queue_id = q.id and not (o.status = any(?::text[])))`,
            [snapshot.itemId, [...CLOSED_STATUSES]],
          );
        }
        if (events.length > 0) {
          await trx('item_events')
            .insert(
              events.map((e) => ({
                item_id: snapshot.itemId,
                dedupe_key: e.dedupeKey,
                event: e.event,
                actor_id: e.actorId,
                details: JSON.stringify(e.details),
                at: new Date(e.at),
              })),
            )
            .onConflict('dedupe_key')
            .ignore();
        }
      });
    },

    /**
     * The next annotator for a rotation turn, under the queue row's lock, remembered per (item, turn):
     * concurrent items and retries never hand out the same turn twice.
     */
    async claimTurn(input: { itemId: string; queueId: string; turn: number; strategy: AssignmentStrategy; exclude: string[] }): Promise<string | null> {
      return db.transaction(async (trx) => {
        const earlier = await trx('assignment_turns').where({ item_id: input.itemId, turn: input.turn }).first('annotator_id');
        if (earlier) return earlier.annotator_id === null ? null : str(earlier.annotator_id);
        const queue = await trx('queues').where({ id: input.queueId }).forUpdate().first('rotation_cursor');
        const members: Row[] = await trx('queue_members')
          .where({ queue_id: input.queueId })
          .whereRaw(`'annotator' = any(roles)`)
          .orderBy('principal_id')
          .select('principal_id');
        const rotation = members.map((m) => str(m.principal_id));
        const start = rotation.length ? Number(queue?.rotation_cursor ?? 0) % rotation.length : 0;
        const ordered = [...rotation.slice(start), ...rotation.slice(0, start)].filter((id) => !input.exclude.includes(id));

        let chosen: string | null = ordered[0] ?? null;
        if (chosen && input.strategy === 'load_balanced') {
          const loads: Row[] = await trx('assignment_turns as t')
            .join('queue_items as i', 'i.id', 't.item_id')
            .where('t.queue_id', input.queueId)
            .whereNotNull('t.annotator_id')
            .whereNotIn('i.status', CLOSED_STATUSES)
            .whereRaw('not (t.annotator_id::text = any(i.submitted_by))')
            .whereRaw(
              '(t.annotator_id::text = any(i.assigned_to) or t.annotator_id::text = any(i.reserved_by) or i.version = 0 or t.created_at > i.updated_at)',
            )
            .groupBy('t.annotator_id')
            .select('t.annotator_id', trx.raw('count(distinct t.item_id)::int as open'));
          const load = new Map(loads.map((l) => [str(l.annotator_id), Number(l.open)]));
          chosen = [...ordered].sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0))[0]!;
        }
        await trx('assignment_turns').insert({ item_id: input.itemId, turn: input.turn, queue_id: input.queueId, annotator_id: chosen });
        if (chosen)
          await trx('queues')
            .where({ id: input.queueId })
            .update({ rotation_cursor: (rotation.indexOf(chosen) + 1) % rotation.length });
        return chosen;
      });
    },
  };
}

/** Scores keyed so a retry inserts nothing: (item, label, annotator, round) is unique. */
async function writeSubmission(trx: Db, workspaceId: string, itemId: string, submission: SubmissionWrite): Promise<void> {
  const item = await trx('queue_items').where({ id: itemId }).first('source_id');
  if (!item) throw new Error(`queue item ${itemId} not found`);
  const rows = submission.scores.map((s) => {
    const typed = typedValueColumns(s.value);
    return {
      id: s.id,
      workspace_id: workspaceId,
      source_id: item.source_id,
      label_id: s.labelId,
      label_version: s.labelVersion,
      value: JSON.stringify(s.value),
      value_number: typed.valueNumber,
      value_text: typed.valueText,
      value_boolean: typed.valueBoolean,
      value_texts: typed.valueTexts,
      annotator_id: submission.annotatorId,
      principal_id: submission.annotatorId,
      score_source: 'human',
      notes: s.notes,
      queue_item_id: itemId,
      round: submission.round,
      metadata: '{}',
    };
  });
  if (rows.length > 0) {
    const insert = trx('scores').insert(rows).toSQL();
    await trx.raw(`${insert.sql} on conflict (queue_item_id, label_id, annotator_id, round) where queue_item_id is not null do nothing`, insert.bindings);
  }
  await trx('submissions')
    .insert({
      annotator_id: submission.annotatorId,
      idempotency_key: submission.idempotencyKey,
      item_id: itemId,
      body_hash: submission.bodyHash,
      response: JSON.stringify(submission.response),
    })
    .onConflict(['annotator_id', 'idempotency_key'])
    .ignore();
}

/** Resolves every queue label on the current round of each annotator (domain/resolve.ts); safe to run again. */
async function writeResults(trx: Db, itemId: string, labelIds: string[], reviewerId: string | null, overrides: ReviewOverride[]): Promise<void> {
  // The labels the item was added with, not the queue's current ones.
  const labels: Row[] = await trx('labels').whereIn('id', labelIds).select('id', 'type');
  const scores: Row[] = await trx('scores as s')
    .where('s.queue_item_id', itemId)
    .whereNull('s.deleted_at')
    .whereRaw('s.round = (select max(round) from scores x where x.queue_item_id = s.queue_item_id and x.annotator_id = s.annotator_id)')
    .orderBy('s.created_at')
    .select('s.label_id', 's.annotator_id', 's.value');
  for (const label of labels) {
    const votes = scores.filter((s) => s.label_id === label.id).map((s) => ({ annotatorId: str(s.annotator_id), value: s.value as LabelValue }));
    const override = overrides.find((o) => o.labelId === label.id);
    const resolution = resolveLabel(label.type as LabelType, votes, override && reviewerId ? { reviewerId, value: override.value } : undefined);
    await trx('item_results')
      .insert({
        item_id: itemId,
        label_id: label.id,
        value: JSON.stringify(resolution.value),
        method: resolution.method,
        provenance: JSON.stringify({ ...resolution.provenance, approvedBy: reviewerId }),
      })
      .onConflict(['item_id', 'label_id'])
      .merge(['value', 'method', 'provenance']);
  }
}
