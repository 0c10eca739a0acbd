import { newId, isUuid } from '../../domain/ids.js';
import { LABEL_TYPES, type LabelRules, type LabelType } from '../../domain/labels.js';
import type { Db } from '../db.js';
import { iso, num, record, str, type Row } from './rows.js';

export interface LabelRecord {
  id: string;
  key: string;
  name: string;
  description: string;
  type: LabelType;
  settings: Record<string, unknown>;
  allowNotes: boolean;
  version: number;
  archived: boolean;
  createdAt: string;
  updatedAt: string;
}

function labelType(value: unknown): LabelType {
  const found = LABEL_TYPES.find((t) => t === value);
  if (!found) throw new TypeError(`unknown label type ${String(value)}`);
  return found;
}

function toLabel(row: Row): LabelRecord {
  return {
    id: str(row.id),
    key: str(row.key),
    name: str(row.name),
    description: str(row.description),
    type: labelType(row.type),
    settings: record(row.settings),
    allowNotes: row.allow_notes === true,
    version: num(row.version),
    archived: row.archived_at !== null,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

/** The label's rules as the domain validator wants them (settings were validated on write). */
export function rulesOf(label: Pick<LabelRecord, 'type' | 'settings'>): LabelRules {
  return { type: label.type, settings: label.settings } as LabelRules;
}

export function createLabelsRepo(db: Db) {
  return {
    async create(workspaceId: string, input: { key: string; name: string; description: string; rules: LabelRules; allowNotes: boolean }) {
      const [row] = await db('labels')
        .insert({
          id: newId(),
          workspace_id: workspaceId,
          key: input.key,
          name: input.name,
          description: input.description,
          type: input.rules.type,
          settings: JSON.stringify(input.rules.settings),
          allow_notes: input.allowNotes,
        })
        .returning('*');
      return toLabel(row);
    },

    /** By id or by key; archived labels included (callers decide what archived means for them). */
    async find(workspaceId: string, idOrKey: string): Promise<LabelRecord | null> {
      const query = db('labels').where({ workspace_id: workspaceId });
      query.where(isUuid(idOrKey) ? { id: idOrKey } : { key: idOrKey });
      const row = await query.first();
      return row ? toLabel(row) : null;
    },

    /** Resolves many ids-or-keys in one query; the map is keyed by the reference as given. */
    async findMany(workspaceId: string, refs: string[]): Promise<Map<string, LabelRecord>> {
      const ids = refs.filter(isUuid);
      const rows: Row[] = await db('labels')
        .where({ workspace_id: workspaceId })
        .where((q) => void q.whereIn('key', refs).orWhereIn('id', ids));
      const labels = rows.map(toLabel);
      const found = new Map<string, LabelRecord>();
      for (const ref of refs) {
        const label = labels.find((l) => (isUuid(ref) ? l.id === ref : l.key === ref));
        if (label) found.set(ref, label);
      }
      return found;
    },

    async list(workspaceId: string, opts: { limit: number; cursor?: string; includeArchived: boolean }) {
      const query = db('labels')
        .where({ workspace_id: workspaceId })
        .orderBy('id')
        .limit(opts.limit + 1);
      if (!opts.includeArchived) query.whereNull('archived_at');
      if (opts.cursor) query.where('id', '>', opts.cursor);
      return ((await query) as Row[]).map(toLabel);
    },

    async update(
      workspaceId: string,
      id: string,
      patch: { key?: string; name?: string; description?: string; allowNotes?: boolean; settings?: Record<string, unknown>; bumpVersion: boolean },
    ): Promise<LabelRecord> {
      const [row] = await db('labels')
        .where({ workspace_id: workspaceId, id })
        .update({
          ...(patch.key !== undefined && { key: patch.key }),
          ...(patch.name !== undefined && { name: patch.name }),
          ...(patch.description !== undefined && { description: patch.description }),
          ...(patch.allowNotes !== undefined && { allow_notes: patch.allowNotes }),
          ...(patch.settings !== undefined && { settings: JSON.stringify(patch.settings) }),
          ...(patch.bumpVersion && { version: db.raw('version + 1') }),
          updated_at: db.fn.now(),
        })
        .returning('*');
      return toLabel(row);
    },

    async setArchived(workspaceId: string, id: string, archived: boolean): Promise<LabelRecord> {
      const [row] = await db('labels')
        .where({ workspace_id: workspaceId, id })
        .update({ archived_at: archived ? db.raw('coalesce(archived_at, now())') : null, updated_at: db.fn.now() })
        .returning('*');
      return toLabel(row);
    },
  };
}

export type LabelsRepo = ReturnType<typeof createLabelsRepo>;
