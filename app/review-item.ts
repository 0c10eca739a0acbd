import type { z } from 'zod';
import type { reviewBody } from '../domain/api.js';
import { validationError } from '../domain/errors.js';
import { validateLabelValue } from '../domain/labels.js';
import type { Principal } from '../domain/principals.js';
import type { ItemRecord } from '../infra/repositories/items/index.js';
import { rulesOf } from '../infra/repositories/labels.repo.js';
import { reviewUpdate, type ItemStatusResult } from '../workflows/definitions.js';
import type { AppDeps } from './deps.js';
import { updateItem } from './item-workflows.js';
import type { QueueAccess } from './queue-access.js';

export type ReviewBody = z.output<typeof reviewBody>;

/**
 * A reviewer's verdict: approve (overrides set the resolved value of labels) or request changes,
 * optionally per label per annotator. Labels and values are checked here; who may review is the workflow's call.
 */
export async function reviewItem(
  { repos, temporal }: AppDeps,
  principal: Principal,
  access: QueueAccess,
  item: ItemRecord,
  body: ReviewBody,
  idempotencyKey?: string,
): Promise<ItemStatusResult> {
  const targets = (body.targets ?? []).map((t, i) => {
    const label = t.label === undefined ? undefined : access.queue.labels.find((l) => l.key === t.label || l.labelId === t.label);
    if (t.label !== undefined && !label) throw validationError(`targets.${i}.label: ${t.label} is not a label of this queue.`);
    return { annotatorId: t.annotatorId, labelKey: label?.key ?? null, comment: t.comment };
  });
  const labels = await repos.labels.findMany(
    principal.workspaceId,
    (body.overrides ?? []).map((o) => o.label),
  );
  const overrides = (body.overrides ?? []).map((o, i) => {
    const label = labels.get(o.label);
    if (!label || !access.queue.labels.some((l) => l.labelId === label.id))
      throw validationError(`overrides.${i}.label: ${o.label} is not a label of this queue.`);
    const value = validateLabelValue(rulesOf(label), o.value);
    if (!value.ok) throw validationError(`overrides.${i}.value (${label.key}): ${value.message}`);
    return { labelId: label.id, value: value.value };
  });
  return updateItem(temporal, item.id, reviewUpdate, [{ reviewerId: principal.id, action: body.action, comment: body.comment ?? null, targets, overrides }], {
    updateId: idempotencyKey === undefined ? undefined : `review:${principal.id}:${idempotencyKey}`,
  });
}
