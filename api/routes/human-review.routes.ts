import type { z } from 'zod';
import * as api from '../../domain/api.js';
import { DomainError, notFound, validationError } from '../../domain/errors.js';
import { isUuid } from '../../domain/ids.js';
import { validateLabelValue } from '../../domain/labels.js';
import type { Principal } from '../../domain/principals.js';
import { rulesOf, type LabelRecord } from '../../infra/repositories/labels.repo.js';
import type { InlineScoreWrite } from '../../infra/repositories/scores.repo.js';
import type { AppDeps } from '../../app/deps.js';
import { endpoint } from '../endpoint.js';
import { annotatorIdentity, inlineScoreKey, principalIdentities, withoutUndefined } from '../../app/inline-scores.js';

type V2Value = string | number | boolean | string[];

/**
 * The trace/span human-review API of the second seed, served as is for its clients and SDKs.
 * All-or-nothing: every annotation is checked before any is written. Messages are the seed's, to the letter.
 */
export function humanReviewEndpoints({ repos }: AppDeps) {
  async function findSpan(principal: Principal, traceId: string, spanId: string): Promise<string> {
    const span = await repos.sources.find(principal.workspaceId, 'observation_span', spanId);
    if (!span || span.traceId !== traceId) throw notFound(`Span with id ${spanId} for workspace ${principal.workspaceId} was not found.`);
    return span.internalId;
  }

  const reviewNotFound = (key: string, principal: Principal) =>
    notFound(`The human review with key "${key}" for workspace ${principal.workspaceId} was not found.`);

  function checkRouteLimits(value: V2Value): void {
    const strings = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    if (strings.some((s) => s.length > api.V2_MAX_STRING)) {
      throw validationError(`String value exceeds maximum length of ${api.V2_MAX_STRING} characters.`);
    }
  }

  async function identityOf(principal: Principal, metadata: { identityId?: string } | undefined): Promise<string> {
    const principals = await principalIdentities(repos, principal, [metadata?.identityId]);
    const identity = annotatorIdentity(principal, metadata?.identityId, principals);
    if (!identity.ok) throw new DomainError('FORBIDDEN', identity.message);
    return identity.id;
  }

  return [
    endpoint({
      method: 'post',
      path: '/v2/traces/:traceId/spans/:spanId/annotation',
      tag: 'human-review',
      summary: 'Annotate a span with 1–10 human-review values (all-or-nothing). Answers 200.',
      body: api.v2CreateBody,
      status: 200,
      response: api.v2Response,
      handler: async ({ principal, params, body }) => {
        const sourceId = await findSpan(principal, params.traceId!, params.spanId!);
        const annotatorId = await identityOf(principal, body.metadata);
        const metadata = withoutUndefined(body.metadata ?? {});

        const keys = body.annotations.flatMap((a) => ('key' in a && typeof a.key === 'string' ? [a.key] : []));
        const labels = await repos.labels.findMany(principal.workspaceId, keys);
        const parentIds = body.annotations.flatMap((a) => ('key' in a ? [] : [String(a.parentAnnotationId ?? a.parent_annotation_id)]));
        const parents = parentIds.length
          ? await repos.scores.findManyByIds(
              principal.workspaceId,
              parentIds.filter((id) => isUuid(id)),
            )
          : [];

        const writes: { write: InlineScoreWrite; label: LabelRecord }[] = [];
        for (const annotation of body.annotations) {
          let label: LabelRecord | undefined;
          let notes: string | null = null;
          if ('key' in annotation && typeof annotation.key === 'string') {
            label = labels.get(annotation.key);
            if (!label || label.archived) throw reviewNotFound(annotation.key, principal);
          } else {
            const parentId = String(annotation.parentAnnotationId ?? annotation.parent_annotation_id);
            const parent = parents.find((p) => p.id === parentId && p.sourceId === params.spanId);
            if (!parent) throw notFound(`Annotation with id ${parentId} for workspace ${principal.workspaceId} was not found.`);
            const found = await repos.labels.find(principal.workspaceId, parent.labelId);
            if (!found || found.archived) throw reviewNotFound(parent.labelKey, principal);
            label = found;
            notes = typeof annotation.explanation === 'string' ? annotation.explanation : null;
          }
          checkRouteLimits(annotation.value);
          const value = validateLabelValue(rulesOf(label), annotation.value);
          if (!value.ok) throw validationError(value.message);
          writes.push({
            label,
            write: {
              sourceId,
              labelId: label.id,
              labelVersion: label.version,
              value: value.value,
              annotatorId,
              principalId: principal.id,
              scoreSource: 'human',
              notes,
              metadata,
            },
          });
        }
        // The last value for a key wins, as two calls in a row would.
        const unique = [...new Map(writes.map((w) => [inlineScoreKey(w.write), w])).values()];
        const written = await repos.scores.upsertInline(
          principal.workspaceId,
          unique.map((w) => w.write),
        );
        return {
          success: true,
          annotations: written.map((w, i) => ({ id: w.id, key: unique[i]!.label.key, value: unique[i]!.write.value })),
        } satisfies z.input<typeof api.v2Response>;
      },
    }),
    endpoint({
      method: 'delete',
      path: '/v2/traces/:traceId/spans/:spanId/annotation',
      tag: 'human-review',
      summary: "Remove the caller's (or metadata.identityId's) values for 1–10 keys on a span. Answers 200.",
      body: api.v2DeleteBody,
      status: 200,
      response: api.v2Response,
      handler: async ({ principal, params, body }) => {
        const sourceId = await findSpan(principal, params.traceId!, params.spanId!);
        const annotatorId = await identityOf(principal, body.metadata);
        const keys = body.keys ?? [];
        const labels = await repos.labels.findMany(principal.workspaceId, keys);
        for (const key of keys) if (!labels.has(key)) throw reviewNotFound(key, principal);
        await repos.scores.softDeleteInline(principal.workspaceId, {
          sourceId,
          annotatorId,
          labelIds: [...labels.values()].map((l) => l.id),
          scoreIds: (body.parentAnnotationIds ?? body.parent_annotation_ids ?? []).filter((id) => isUuid(id)),
        });
        return { success: true };
      },
    }),
  ];
}
