import type { z } from 'zod';
import type { sourceBody } from '../../domain/api.js';
import { newId } from '../../domain/ids.js';
import { SOURCE_TYPES, type SourceType } from '../../domain/sources.js';
import type { Db } from '../db.js';
import { iso, record, str, strOrNull, type Row } from './rows.js';

export type SourceInput = z.output<typeof sourceBody>;

export interface SourceRecord {
  type: SourceType;
  id: string;
  traceId: string | null;
  sessionId: string | null;
  name: string | null;
  input: unknown;
  output: unknown;
  messages: unknown[] | null;
  attributes: Record<string, unknown>;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export function sourceType(value: unknown): SourceType {
  const found = SOURCE_TYPES.find((t) => t === value);
  if (!found) throw new TypeError(`unknown source type ${String(value)}`);
  return found;
}

function toSource(row: Row): SourceRecord {
  return {
    type: sourceType(row.type),
    id: str(row.external_id),
    traceId: strOrNull(row.trace_id),
    sessionId: strOrNull(row.session_id),
    name: strOrNull(row.name),
    input: row.input ?? null,
    output: row.output ?? null,
    messages: Array.isArray(row.messages) ? row.messages : null,
    attributes: record(row.attributes),
    metadata: record(row.metadata),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

const jsonOrNull = (v: unknown) => (v === undefined ? null : JSON.stringify(v));

export interface UpsertOutcome {
  inserted: boolean;
  updated: boolean;
  /** Set when the row was left alone because the entry conflicts with what is stored. */
  conflict?: string;
}

export function createSourcesRepo(db: Db) {
  return {
    /**
     * Upserts distinct sources in one statement. A span never moves to another trace: an entry
     * that tries is left out of the upsert and reported back as a conflict.
     */
    async upsertMany(workspaceId: string, entries: SourceInput[]): Promise<UpsertOutcome[]> {
      if (entries.length === 0) return [];
      const rows = entries.map((e) => ({
        id: newId(),
        workspace_id: workspaceId,
        type: e.type,
        external_id: e.id,
        trace_id: e.traceId ?? null,
        session_id: e.sessionId ?? null,
        name: e.name ?? null,
        input: jsonOrNull(e.input),
        output: jsonOrNull(e.output),
        messages: jsonOrNull(e.messages),
        attributes: JSON.stringify(e.attributes ?? {}),
        metadata: JSON.stringify(e.metadata ?? {}),
      }));
      const returned: Row[] = await db('sources')
        .insert(rows)
        .onConflict(['workspace_id', 'type', 'external_id'])
        .merge(
          ['trace_id', 'session_id', 'name', 'input', 'output', 'messages', 'attributes', 'metadata', 'updated_at'].reduce<Record<string, unknown>>(
            (acc, col) => ({ ...acc, [col]: col === 'updated_at' ? db.fn.now() : db.raw('excluded.??', [col]) }),
            {},
          ),
        )
        .where(db.raw(`sources.type <> 'observation_span' or sources.trace_id = excluded.trace_id`))
        .returning(['type', 'external_id', db.raw('(xmax = 0) as inserted')]);
      const byKey = new Map(returned.map((r) => [sourceKey(sourceType(r.type), str(r.external_id)), r.inserted === true]));
      return entries.map((e) => {
        const inserted = byKey.get(sourceKey(e.type, e.id));
        if (inserted === undefined)
          return { inserted: false, updated: false, conflict: `Span ${e.id} already belongs to another trace; a span belongs to one trace.` };
        return { inserted, updated: !inserted };
      });
    },

    async find(workspaceId: string, type: SourceType, externalId: string): Promise<(SourceRecord & { internalId: string }) | null> {
      const row = await db('sources').where({ workspace_id: workspaceId, type, external_id: externalId }).first();
      return row ? { ...toSource(row), internalId: str(row.id) } : null;
    },

    /** Resolves many (type, external id) pairs to internal ids in one query. */
    async resolveIds(workspaceId: string, keys: { type: SourceType; id: string }[]): Promise<Map<string, string>> {
      if (keys.length === 0) return new Map();
      const rows: Row[] = await db('sources')
        .where({ workspace_id: workspaceId })
        .whereIn(
          ['type', 'external_id'],
          keys.map((k) => [k.type, k.id]),
        )
        .select('id', 'type', 'external_id');
      return new Map(rows.map((r) => [sourceKey(sourceType(r.type), str(r.external_id)), str(r.id)]));
    },
  };
}

export const sourceKey = (type: SourceType, id: string) => `${type}\u0000${id}`;

export type SourcesRepo = ReturnType<typeof createSourcesRepo>;
