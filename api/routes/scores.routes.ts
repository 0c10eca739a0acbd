import { z } from 'zod';
import * as api from '../../domain/api.js';
import { DomainError, conflict, forbidden, notFound, queueScoreIsTheItems } from '../../domain/errors.js';
import { isUuid } from '../../domain/ids.js';
import type { InlineScoreWrite } from '../../infra/repositories/scores.repo.js';
import { pageOf } from '../../infra/repositories/rows.js';
import type { AppDeps } from '../../app/deps.js';
import { describeStorageProblem, findUnstorable } from '../../domain/storable.js';
import { describeZodError, endpoint } from '../endpoint.js';
import { inlineScoreKey, prepareInlineScores, type ScoreRequest } from '../../app/inline-scores.js';

export const scoreBatchBody = z
  .array(z.unknown())
  .min(1, `send 1 to ${api.MAX_BATCH} scores`)
  .max(api.MAX_BATCH, `a batch holds at most ${api.MAX_BATCH} scores`);

export function scoreEndpoints({ repos }: AppDeps) {
  return [
    endpoint({
      method: 'post',
      path: '/api/v1/scores',
      tag: 'scores',
      summary: 'Score a source inline (no queue). Upserts on (source, label, identity): 201 when new, 200 when it replaced the value.',
      body: api.createScoreBody,
      status: 201,
      response: api.score,
      handler: async ({ principal, body, res }) => {
        const [prepared] = await prepareInlineScores(repos, principal, [body]);
        if (!prepared!.ok) throw new DomainError(prepared!.code, prepared!.message);
        const [written] = await repos.scores.upsertInline(principal.workspaceId, [prepared!.write]);
        const score = await repos.scores.findById(principal.workspaceId, written!.id);
        res.status(written!.inserted ? 201 : 200).json(score);
        return undefined;
      },
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/scores/bulk',
      tag: 'scores',
      bodyLimit: '16mb',
      perEntry: true,
      summary:
        'Score up to 1000 sources inline (a JSON array). Per entry: valid entries are written, invalid ones reported in errors; an entry repeating an earlier (source, label, identity) is reported in duplicates.',
      body: scoreBatchBody,
      status: 200,
      response: api.scoreBulkResponse,
      handler: async ({ principal, body }) => {
        const result: z.output<typeof api.scoreBulkResponse> = { added: [], duplicates: [], errors: [] };
        const requests: { index: number; request: ScoreRequest }[] = [];
        body.forEach((raw, index) => {
          const parsed = api.createScoreBody.safeParse(raw);
          const unstorable = findUnstorable(raw);
          if (unstorable) result.errors.push({ index, code: 'VALIDATION', message: describeStorageProblem(unstorable, `[${index}]`) });
          else if (!parsed.success) result.errors.push({ index, code: 'VALIDATION', message: describeZodError(parsed.error, `[${index}]`) });
          else requests.push({ index, request: parsed.data });
        });
        const prepared = await prepareInlineScores(
          repos,
          principal,
          requests.map((r) => r.request),
        );
        const firstIndex = new Map<string, number>();
        const writes: { index: number; write: InlineScoreWrite }[] = [];
        prepared.forEach((p, i) => {
          const index = requests[i]!.index;
          if (!p.ok) return void result.errors.push({ index, code: p.code, message: p.message });
          const key = inlineScoreKey(p.write);
          const first = firstIndex.get(key);
          if (first !== undefined) return void result.duplicates.push({ index, firstIndex: first });
          firstIndex.set(key, index);
          writes.push({ index, write: p.write });
        });
        const written = await repos.scores.upsertInline(
          principal.workspaceId,
          writes.map((w) => w.write),
        );
        written.forEach((w, i) => result.added.push({ index: writes[i]!.index, id: w.id }));
        result.errors.sort((a, b) => a.index - b.index);
        return result;
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/scores',
      tag: 'scores',
      summary: 'Scores of the workspace, filtered, oldest first, cursor-paginated',
      query: api.scoreListQuery,
      status: 200,
      response: api.page(api.score),
      handler: async ({ principal, query }) => {
        // A queue id is a UUID: anything else matches no queue (and must not reach Postgres as a bad uuid).
        if (query.queueId !== undefined && !isUuid(query.queueId)) return { data: [], nextCursor: null };
        let labelId: string | undefined;
        if (query.label) {
          const label = await repos.labels.find(principal.workspaceId, query.label);
          if (!label) return { data: [], nextCursor: null };
          labelId = label.id;
        }
        const viewer = { id: principal.id, isAdmin: principal.role === 'admin' };
        const rows = await repos.scores.list(principal.workspaceId, viewer, { ...query, labelId }, query.limit, query.cursor);
        return pageOf(rows, query.limit);
      },
    }),
    endpoint({
      method: 'delete',
      path: '/api/v1/scores/:id',
      tag: 'scores',
      summary: 'Delete a score (soft): its author or an admin',
      status: 204,
      handler: async ({ principal, params }) => {
        const score = isUuid(params.id!) ? await repos.scores.findById(principal.workspaceId, params.id!) : null;
        if (!score) throw notFound(`Score ${params.id} was not found.`);
        if (score.principalId !== principal.id && principal.role !== 'admin') throw forbidden("Only the score's author or a workspace admin may delete it.");
        if (score.queueItemId !== null) throw conflict(queueScoreIsTheItems(score.id));
        await repos.scores.softDelete(principal.workspaceId, score.id);
        return undefined;
      },
    }),
  ];
}
