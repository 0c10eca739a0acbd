import { createHash, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { submitBody } from '../domain/api.js';
import { DomainError, validationError } from '../domain/errors.js';
import { validateLabelValue } from '../domain/labels.js';
import type { Principal } from '../domain/principals.js';
import type { ItemRecord } from '../infra/repositories/items/index.js';
import { rulesOf } from '../infra/repositories/labels.repo.js';
import { submitUpdate, type SubmitAnnotation, type SubmitResult } from '../workflows/definitions.js';
import type { AppDeps } from './deps.js';
import { updateItem } from './item-workflows.js';

export type SubmitBody = z.output<typeof submitBody>;

const MAX_IDEMPOTENCY_KEY = 200;

/** Checks an Idempotency-Key header: 1 to 200 characters, or absent. */
export function optionalIdempotencyKey(header: string | undefined): string | undefined {
  const given = header?.trim();
  if (given !== undefined && (given.length === 0 || given.length > MAX_IDEMPOTENCY_KEY)) {
    throw validationError(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters.`);
  }
  return given;
}

/** A submit's key: the one given, else a fresh one (the request is then not retryable by key). */
export function idempotencyKeyOf(header: string | undefined): string {
  return optionalIdempotencyKey(header) ?? randomUUID();
}

/** A 409 the workflow marks retryable: the transition was rolled back, nothing of it was stored. */
function isRetryableRejection(error: unknown): boolean {
  return error instanceof DomainError && error.code === 'CONFLICT' && (error.details as { retryable?: unknown } | undefined)?.retryable === true;
}

/** Validates values against their labels; returns what the workflow needs (ids and versions, no label lookups). */
async function prepareAnnotations({ repos }: AppDeps, principal: Principal, body: SubmitBody): Promise<SubmitAnnotation[]> {
  const labels = await repos.labels.findMany(
    principal.workspaceId,
    body.annotations.map((a) => a.label),
  );
  return body.annotations.map((a, i) => {
    const label = labels.get(a.label);
    // Whether the label belongs to this item is the workflow's call: it keeps the labels the item was added with.
    if (!label) throw validationError(`annotations.${i}.label: ${a.label} is not a label of this workspace.`);
    if (label.archived) throw validationError(`annotations.${i}.label: ${label.key} is archived.`);
    if (a.notes !== undefined && !label.allowNotes) throw validationError(`annotations.${i}.notes: label ${label.key} does not allow notes.`);
    const value = validateLabelValue(rulesOf(label), a.value);
    if (!value.ok) throw validationError(`annotations.${i}.value (${label.key}): ${value.message}`);
    return { labelId: label.id, labelVersion: label.version, value: value.value, notes: a.notes ?? null };
  });
}

/**
 * An annotator's submission, idempotent by key (DESIGN.md §4 Submit): the key, the caller, a hash of
 * the body and the response are stored with the scores; a retry gets the stored response (also after
 * the workflow has closed), the same key with another body a 409. The update id is `submit:<annotator>:<key>`.
 */
export async function submitAnnotations(
  deps: AppDeps,
  principal: Principal,
  item: ItemRecord,
  body: SubmitBody,
  idempotencyKey: string,
): Promise<SubmitResult> {
  const bodyHash = createHash('sha256')
    .update(JSON.stringify({ itemId: item.id, annotations: body.annotations }))
    .digest('hex');
  const replay = async (): Promise<SubmitResult | undefined> => {
    const stored = await deps.repos.items.storedSubmission(principal.id, idempotencyKey);
    if (!stored) return undefined;
    if (stored.bodyHash !== bodyHash) throw new DomainError('CONFLICT', 'This Idempotency-Key was already used with a different request body.');
    return stored.response as SubmitResult;
  };
  const earlier = await replay();
  if (earlier) return earlier;
  const annotations = await prepareAnnotations(deps, principal, body);
  const send = (updateId: string) =>
    updateItem(deps.temporal, item.id, submitUpdate, [{ annotatorId: principal.id, idempotencyKey, bodyHash, annotations }], { updateId });
  const updateId = `submit:${principal.id}:${idempotencyKey}`;
  try {
    let result: SubmitResult;
    try {
      result = await send(updateId);
    } catch (error) {
      // A rolled-back submission (a retryable 409: another transition of the item was refused, nothing of this one
      // stored) is sent once more. Under a new id: Temporal keeps a finished update's outcome under its id, so a
      // client's retry with this key would otherwise get the old rejection forever.
      if (!isRetryableRejection(error) || (await replay()) !== undefined) throw error;
      result = await send(`${updateId}:${randomUUID()}`);
    }
    // Two requests with one key and different bodies at once: Temporal deduplicated them by update id, so check which body won.
    return (await replay()) ?? result;
  } catch (error) {
    // A concurrent retry with the same key may have won: answer as it did.
    const raced = await replay();
    if (raced) return raced;
    throw error;
  }
}
