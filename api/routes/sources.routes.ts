import { z } from 'zod';
import * as api from '../../domain/api.js';
import { notFound } from '../../domain/errors.js';
import { SOURCE_TYPES } from '../../domain/sources.js';
import type { SourceInput } from '../../infra/repositories/sources.repo.js';
import type { AppDeps } from '../../app/deps.js';
import { describeStorageProblem, findUnstorable } from '../../domain/storable.js';
import { describeZodError, endpoint, parseWith } from '../endpoint.js';

const batchOf = (what: string) =>
  z.array(z.unknown()).min(1, `send 1 to ${api.MAX_BATCH} ${what}`).max(api.MAX_BATCH, `a batch holds at most ${api.MAX_BATCH} ${what}`);

export const sourceBatchBody = batchOf('sources');

export function sourceEndpoints({ repos }: AppDeps) {
  return [
    endpoint({
      method: 'post',
      path: '/api/v1/sources',
      tag: 'sources',
      bodyLimit: '16mb',
      perEntry: true,
      summary:
        'Upsert up to 1000 sources (a JSON array). Per entry: valid entries are written, invalid ones reported in errors; repeats of an earlier entry are reported in duplicates.',
      body: sourceBatchBody,
      status: 200,
      response: api.sourceBatchResponse,
      handler: async ({ principal, body }) => {
        const result: z.output<typeof api.sourceBatchResponse> = { added: [], updated: [], duplicates: [], errors: [] };
        const firstIndex = new Map<string, number>();
        const accepted: { index: number; entry: SourceInput }[] = [];
        body.forEach((raw, index) => {
          const parsed = api.sourceBody.safeParse(raw);
          if (!parsed.success) {
            result.errors.push({ index, code: 'VALIDATION', message: describeZodError(parsed.error, `[${index}]`) });
            return;
          }
          const entry = parsed.data;
          const unstorable = findUnstorable(entry);
          if (unstorable) {
            result.errors.push({ index, code: 'VALIDATION', message: describeStorageProblem(unstorable, `[${index}]`) });
            return;
          }
          if (entry.type === 'observation_span' && !entry.traceId) {
            result.errors.push({ index, code: 'VALIDATION', message: 'traceId: required for an observation_span (a span belongs to one trace)' });
            return;
          }
          const key = `${entry.type}\u0000${entry.id}`;
          const first = firstIndex.get(key);
          if (first !== undefined) {
            result.duplicates.push({ index, type: entry.type, id: entry.id, firstIndex: first });
            return;
          }
          firstIndex.set(key, index);
          accepted.push({ index, entry });
        });
        const outcomes = await repos.sources.upsertMany(
          principal.workspaceId,
          accepted.map((a) => a.entry),
        );
        outcomes.forEach((outcome, i) => {
          const { index, entry } = accepted[i]!;
          if (outcome.conflict) result.errors.push({ index, code: 'CONFLICT', message: outcome.conflict });
          else (outcome.inserted ? result.added : result.updated).push({ index, type: entry.type, id: entry.id });
        });
        result.errors.sort((a, b) => a.index - b.index);
        return result;
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/sources/:type/:id',
      tag: 'sources',
      summary: 'One source with its content',
      status: 200,
      response: api.source,
      handler: async ({ principal, params }) => {
        const type = parseWith(z.enum(SOURCE_TYPES), params.type, 'type');
        const found = await repos.sources.find(principal.workspaceId, type, params.id!);
        if (!found) throw notFound(`Source ${type}/${params.id} was not found.`);
        const { internalId: _internal, ...source } = found;
        return source;
      },
    }),
  ];
}
