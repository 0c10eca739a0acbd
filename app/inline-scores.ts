import type { z } from 'zod';
import type { createScoreBody } from '../domain/api.js';
import { validateLabelValue } from '../domain/labels.js';
import type { Principal, ScoreSource } from '../domain/principals.js';
import type { ErrorCode } from '../domain/errors.js';
import type { Repos } from '../infra/repositories/index.js';
import { rulesOf, type LabelRecord } from '../infra/repositories/labels.repo.js';
import type { InlineScoreWrite } from '../infra/repositories/scores.repo.js';
import { sourceKey } from '../infra/repositories/sources.repo.js';

export type ScoreRequest = z.output<typeof createScoreBody>;

export type PreparedScore = { ok: true; write: InlineScoreWrite; label: LabelRecord } | { ok: false; code: ErrorCode; message: string };

/**
 * The annotator identity: `metadata.identityId` (end-user feedback relayed by a service key),
 * else the caller. A user key may not speak for someone else, and no key may speak as another
 * Quorum principal (that would overwrite their scores in their name).
 */
export function annotatorIdentity(
  principal: Principal,
  identityId: string | undefined,
  workspacePrincipals: ReadonlySet<string>,
): { ok: true; id: string } | { ok: false; message: string } {
  if (identityId === undefined || identityId === principal.id) return { ok: true, id: principal.id };
  if (principal.kind === 'user') return { ok: false, message: 'metadata.identityId: only a service key may score on behalf of another identity.' };
  if (workspacePrincipals.has(identityId))
    return { ok: false, message: 'metadata.identityId: names a user or key of this workspace; it must be an external identity.' };
  return { ok: true, id: identityId };
}

/** The identityIds among these that are principals of the caller's workspace. */
export async function principalIdentities(repos: Repos, principal: Principal, identityIds: (string | undefined)[]): Promise<Set<string>> {
  const candidates = [...new Set(identityIds.filter((id): id is string => id !== undefined && id !== principal.id))];
  return candidates.length ? repos.principals.existing(principal.workspaceId, candidates) : new Set();
}

export function defaultScoreSource(principal: Principal): ScoreSource {
  return principal.kind === 'user' ? 'human' : 'api';
}

/** Validates inline score requests against their labels and sources; one result per request, in order. */
export async function prepareInlineScores(repos: Repos, principal: Principal, requests: ScoreRequest[]): Promise<PreparedScore[]> {
  const workspaceId = principal.workspaceId;
  const [labels, sources, principals] = await Promise.all([
    repos.labels.findMany(workspaceId, [...new Set(requests.map((r) => r.label))]),
    repos.sources.resolveIds(
      workspaceId,
      requests.map((r) => ({ type: r.sourceType, id: r.sourceId })),
    ),
    principalIdentities(
      repos,
      principal,
      requests.map((r) => r.metadata?.identityId),
    ),
  ]);
  return requests.map((request): PreparedScore => {
    const label = labels.get(request.label);
    if (!label) return { ok: false, code: 'NOT_FOUND', message: `Label ${request.label} was not found.` };
    if (label.archived) return { ok: false, code: 'VALIDATION', message: `Label ${label.key} is archived; restore it to add scores.` };
    const sourceId = sources.get(sourceKey(request.sourceType, request.sourceId));
    if (!sourceId) return { ok: false, code: 'NOT_FOUND', message: `Source ${request.sourceType}/${request.sourceId} was not found.` };
    if (request.notes !== undefined && !label.allowNotes) return { ok: false, code: 'VALIDATION', message: `notes: label ${label.key} does not allow notes.` };
    const value = validateLabelValue(rulesOf(label), request.value);
    if (!value.ok) return { ok: false, code: 'VALIDATION', message: value.message };
    const identity = annotatorIdentity(principal, request.metadata?.identityId, principals);
    if (!identity.ok) return { ok: false, code: 'FORBIDDEN', message: identity.message };
    return {
      ok: true,
      label,
      write: {
        sourceId,
        labelId: label.id,
        labelVersion: label.version,
        value: value.value,
        annotatorId: identity.id,
        principalId: principal.id,
        scoreSource: request.scoreSource ?? defaultScoreSource(principal),
        notes: request.notes ?? null,
        metadata: withoutUndefined(request.metadata ?? {}),
      },
    };
  });
}

export function withoutUndefined(metadata: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(metadata).filter(([, v]) => v !== undefined));
}

/** Key of the inline upsert: a batch may not set the same (source, label, identity) twice. */
export const inlineScoreKey = (w: InlineScoreWrite) => `${w.sourceId}\u0000${w.labelId}\u0000${w.annotatorId}`;
