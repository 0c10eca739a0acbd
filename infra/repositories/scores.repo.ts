import type { LabelValue } from '../../domain/labels.js';
import { typedValueColumns } from '../../domain/labels.js';
import { conflict, queueScoreIsTheItems } from '../../domain/errors.js';
import { newId } from '../../domain/ids.js';
import { SCORE_SOURCES, type ScoreSource } from '../../domain/principals.js';
import type { SourceType } from '../../domain/sources.js';
import type { Db } from '../db.js';
import { iso, num, numOrNull, record, str, strOrNull, type Row } from './rows.js';
import { sourceType } from './sources.repo.js';

export interface ScoreRecord {
  id: string;
  sourceType: SourceType;
  sourceId: string;
  labelId: string;
  labelKey: string;
  labelVersion: number;
  value: LabelValue;
  annotatorId: string;
  principalId: string;
  scoreSource: ScoreSource;
  notes: string | null;
  queueItemId: string | null;
  round: number | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

/** A validated inline score, ready to write. */
export interface InlineScoreWrite {
  sourceId: string;
  labelId: string;
  labelVersion: number;
  value: LabelValue;
  annotatorId: string;
  principalId: string;
  scoreSource: ScoreSource;
  notes: string | null;
  metadata: Record<string, unknown>;
}

function scoreSource(value: unknown): ScoreSource {
  const found = SCORE_SOURCES.find((s) => s === value);
  if (!found) throw new TypeError(`unknown score source ${String(value)}`);
  return found;
}

function labelValue(value: unknown): LabelValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  throw new TypeError('stored score value has an unexpected shape');
}

function toScore(row: Row): ScoreRecord {
  return {
    id: str(row.id),
    sourceType: sourceType(row.source_type),
    sourceId: str(row.source_external_id),
    labelId: str(row.label_id),
    labelKey: str(row.label_key),
    labelVersion: num(row.label_version),
    value: labelValue(row.value),
    annotatorId: str(row.annotator_id),
    principalId: str(row.principal_id),
    scoreSource: scoreSource(row.score_source),
    notes: strOrNull(row.notes),
    queueItemId: strOrNull(row.queue_item_id),
    round: numOrNull(row.round),
    metadata: record(row.metadata),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

export interface ScoreFilter {
  queueItemId?: string;
  sourceType?: SourceType;
  sourceId?: string;
  labelId?: string;
  annotatorId?: string;
  queueId?: string;
  scoreSource?: ScoreSource;
  since?: string;
  until?: string;
}

export interface ScoreViewer {
  id: string;
  isAdmin: boolean;
}

/**
 * The blind rule, in one place: a person sees only their own values on an item while they hold,
 * or could still take, a seat on it (managers included). Reviewers see everyone's once the item is
 * in review; managers and admins who cannot take a seat see them; everyone sees them once completed.
 */
const BLIND_RULE = `(
  s.queue_item_id is null
  or s.annotator_id = :viewer
  or exists (
    select 1 from queue_items i
    left join queue_members m on m.queue_id = i.queue_id and cast(m.principal_id as text) = :viewer
    where i.id = s.queue_item_id and (
      i.status = 'completed'
      or (
        not (:viewer = any(i.assigned_to || i.reserved_by || i.submitted_by || i.rework_for))
        and not (coalesce('annotator' = any(m.roles), false) and i.status in ('pending', 'in_progress') and not (:viewer = any(i.skipped_by)))
        and (:isAdmin or coalesce('manager' = any(m.roles), false) or (coalesce('reviewer' = any(m.roles), false) and i.status in ('pending_review', 'changes_requested')))
      )
    )
  )
)`;

export function createScoresRepo(db: Db) {
  const selectScores = (workspaceId: string) =>
    db('scores as s')
      .join('sources as src', 'src.id', 's.source_id')
      .join('labels as l', 'l.id', 's.label_id')
      .where('s.workspace_id', workspaceId)
      .whereNull('s.deleted_at')
      .select('s.*', 'src.type as source_type', 'src.external_id as source_external_id', 'l.key as label_key');

  return {
    /**
     * Inline scores upsert on (source, label, identity): re-scoring replaces the value. Runs as one
     * statement, so a batch is written whole or not at all.
     */
    async upsertInline(workspaceId: string, writes: InlineScoreWrite[]): Promise<{ id: string; inserted: boolean }[]> {
      if (writes.length === 0) return [];
      const rows = writes.map((w) => {
        const typed = typedValueColumns(w.value);
        return {
          id: newId(),
          workspace_id: workspaceId,
          source_id: w.sourceId,
          label_id: w.labelId,
          label_version: w.labelVersion,
          value: JSON.stringify(w.value),
          value_number: typed.valueNumber,
          value_text: typed.valueText,
          value_boolean: typed.valueBoolean,
          value_texts: typed.valueTexts,
          annotator_id: w.annotatorId,
          principal_id: w.principalId,
          score_source: w.scoreSource,
          notes: w.notes,
          metadata: JSON.stringify(w.metadata),
        };
      });
      const insert = db('scores').insert(rows).toSQL();
      const updated = [
        'label_version',
        'value',
        'value_number',
        'value_text',
        'value_boolean',
        'value_texts',
        'principal_id',
        'score_source',
        'notes',
        'metadata',
      ];
      const result = await db.raw(
        `${insert.sql} on conflict (source_id, label_id, annotator_id) where queue_item_id is null and deleted_at is null
         do update set ${updated.map((c) => `${c} = excluded.${c}`).join(', ')}, updated_at = now() returning id, (xmax = 0) as inserted`,
        insert.bindings,
      );
      return (result.rows as Row[]).map((r) => ({ id: str(r.id), inserted: r.inserted === true }));
    },

    async findById(workspaceId: string, id: string): Promise<ScoreRecord | null> {
      const row = await selectScores(workspaceId).where('s.id', id).first();
      return row ? toScore(row) : null;
    },

    async findManyByIds(workspaceId: string, ids: string[]): Promise<ScoreRecord[]> {
      const rows: Row[] = await selectScores(workspaceId).whereIn('s.id', ids);
      const byId = new Map(rows.map((r) => [str(r.id), toScore(r)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },

    /** Scores the viewer may see: the blind rule of DESIGN.md §4 applies to queue scores. */
    async list(workspaceId: string, viewer: ScoreViewer, filter: ScoreFilter, limit: number, cursor?: string): Promise<ScoreRecord[]> {
      const query = selectScores(workspaceId)
        .orderBy('s.id')
        .limit(limit + 1);
      query.whereRaw(BLIND_RULE, { viewer: viewer.id, isAdmin: viewer.isAdmin });
      if (filter.queueItemId) query.where('s.queue_item_id', filter.queueItemId);
      if (cursor) query.where('s.id', '>', cursor);
      if (filter.sourceType) query.where('src.type', filter.sourceType);
      if (filter.sourceId) query.where('src.external_id', filter.sourceId);
      if (filter.labelId) query.where('s.label_id', filter.labelId);
      if (filter.annotatorId) query.where('s.annotator_id', filter.annotatorId);
      if (filter.scoreSource) query.where('s.score_source', filter.scoreSource);
      if (filter.since) query.where('s.created_at', '>=', filter.since);
      if (filter.until) query.where('s.created_at', '<', filter.until);
      if (filter.queueId) query.whereIn('s.queue_item_id', db('queue_items').select('id').where({ queue_id: filter.queueId }));
      return ((await query) as Row[]).map(toScore);
    },

    /** Inline scores only: a queue score belongs to its item, whose workflow is its one writer (docs/adr/0002). */
    async softDelete(workspaceId: string, id: string): Promise<void> {
      const deleted = await db('scores')
        .where({ workspace_id: workspaceId, id })
        .whereNull('queue_item_id')
        .whereNull('deleted_at')
        .update({ deleted_at: db.fn.now() });
      if (deleted > 0) return;
      const row = await db('scores').where({ workspace_id: workspaceId, id }).first('queue_item_id');
      if (row?.queue_item_id) throw conflict(queueScoreIsTheItems(id));
    },

    /** The human-review DELETE: that identity's live inline values for these labels on this source. */
    async softDeleteInline(workspaceId: string, where: { sourceId: string; annotatorId: string; labelIds?: string[]; scoreIds?: string[] }): Promise<number> {
      const query = db('scores')
        .where({ workspace_id: workspaceId, source_id: where.sourceId, annotator_id: where.annotatorId })
        .whereNull('queue_item_id')
        .whereNull('deleted_at');
      query.where((q) => {
        if (where.labelIds?.length) q.orWhereIn('label_id', where.labelIds);
        if (where.scoreIds?.length) q.orWhereIn('id', where.scoreIds);
      });
      return query.update({ deleted_at: db.fn.now() });
    },
  };
}

export type ScoresRepo = ReturnType<typeof createScoresRepo>;
