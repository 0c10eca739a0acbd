import { createHash, randomUUID } from 'node:crypto';
import type { Response } from 'express';
import type { z } from 'zod';
import * as api from '../../domain/api.js';
import { DomainError, validationError } from '../../domain/errors.js';
import { validateLabelValue } from '../../domain/labels.js';
import type { Principal } from '../../domain/principals.js';
import { queueServesWork, type QueueRole } from '../../domain/queues.js';
import { rulesOf } from '../../infra/repositories/labels.repo.js';
import type { NextCandidate } from '../../infra/repositories/queues.repo.js';
import { REQUEST_DEADLINE_MS } from '../../infra/temporal.js';
import {
  heartbeatUpdate,
  releaseUpdate,
  reserveUpdate,
  resetUpdate,
  reviewUpdate,
  skipUpdate,
  submitUpdate,
  type SubmitAnnotation,
} from '../../workflows/definitions.js';
import type { ApiDeps } from '../deps.js';
import { endpoint } from '../endpoint.js';
import { rejectionCode, updateItem } from '../item-calls.js';
import { buildItemDetail, loadItem, loadQueue, ownLease, requireRole, type QueueAccess } from '../queue-access.js';
import { cancelItem } from './queues.routes.js';

const MAX_IDEMPOTENCY_KEY = 200;

/** Annotator and reviewer actions on one item: each an update on the item's workflow, which has the last word. */
export function itemActionEndpoints({ repos, temporal }: ApiDeps) {
  function assertServesWork(access: QueueAccess): void {
    const serves = queueServesWork(access.queue.status);
    if (!serves.ok) throw new DomainError('CONFLICT', serves.message);
  }

  async function detailAfter(principal: Principal, access: QueueAccess, itemId: string) {
    const item = (await repos.queues.findItem(access.queue.id, itemId))!;
    return buildItemDetail(repos, principal, access, item);
  }

  /** Validates values against their labels; returns what the workflow needs (ids and versions, no label lookups). */
  async function prepareAnnotations(principal: Principal, body: z.output<typeof api.submitBody>): Promise<SubmitAnnotation[]> {
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

  const itemPath = (action: string) => `/api/v1/queues/:id/items/:itemId/${action}`;

  /** The queue and item of an item route, once the caller's role on the queue is checked. */
  async function itemFor(principal: Principal, params: Record<string, string>, role: QueueRole) {
    const access = await loadQueue(repos, principal, params.id!);
    requireRole(access, role);
    return { access, item: await loadItem(repos, access, params.itemId!) };
  }

  return [
    endpoint({
      method: 'get',
      path: '/api/v1/queues/:id/items/:itemId',
      tag: 'items',
      summary: "One item: source content, labels, the values the caller may see (blind rule), seats, the caller's reservation",
      status: 200,
      response: api.itemDetail,
      handler: async ({ principal, params }) => {
        const access = await loadQueue(repos, principal, params.id!);
        return buildItemDetail(repos, principal, access, await loadItem(repos, access, params.itemId!));
      },
    }),
    endpoint({
      method: 'delete',
      path: '/api/v1/queues/:id/items/:itemId',
      tag: 'items',
      summary: 'Remove an item from the queue (manager or admin): its workflow is cancelled, submitted scores are kept',
      status: 200,
      response: api.itemStatusResponse,
      handler: async ({ principal, params }) => {
        const { item } = await itemFor(principal, params, 'manager');
        if (item.status === 'cancelled') return { item: { id: item.id, status: item.status } };
        return cancelItem(temporal, item.id, principal.id);
      },
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/queues/:id/next',
      tag: 'annotate',
      summary:
        'Reserve the best item for the caller (annotate) or find the next item awaiting their review (mode=review). 204 when nothing is available to them.',
      query: api.nextQuery,
      status: 200,
      response: api.itemDetail,
      handler: async ({ principal, params, query, res }) => {
        const access = await loadQueue(repos, principal, params.id!);
        if (query.mode === 'review') {
          requireRole(access, 'reviewer');
          const itemId = await repos.queues.nextForReview(access.queue.id, principal.id);
          if (!itemId) return noContent(res);
          return detailAfter(principal, access, itemId);
        }
        requireRole(access, 'annotator');
        assertServesWork(access);
        const deadline = Date.now() + REQUEST_DEADLINE_MS;
        const refused: string[] = [];
        for (let pass = 0; Date.now() < deadline - 250; pass++) {
          const candidates = await repos.queues.nextCandidates(access.queue.id, principal.id, 10, refused);
          if (candidates.length === 0) return noContent(res);
          for (const itemId of spreadTies(candidates)) {
            try {
              await updateItem(temporal, itemId, reserveUpdate, [{ annotatorId: principal.id }], { deadline, retryWhenBusy: false });
              return detailAfter(principal, access, itemId);
            } catch (error) {
              const code = rejectionCode(error);
              // Lost the race for this item (or it closed meanwhile): never ask it again in this request.
              if (code === 'CONFLICT') refused.push(itemId);
              // Too many callers on this item right now: try the next one, come back to it on a later pass.
              else if (code !== 'RATE_LIMITED') throw error;
            }
          }
          await new Promise((r) => setTimeout(r, Math.min(500, 20 * 2 ** pass) * (0.5 + Math.random())));
        }
        throw new DomainError('RATE_LIMITED', 'Every candidate item is busy; retry shortly.');
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('reserve'),
      tag: 'annotate',
      summary: 'Reserve a seat on this item (409 when none is open to the caller)',
      status: 200,
      response: api.itemDetail,
      handler: async ({ principal, params }) => {
        const access = await loadQueue(repos, principal, params.id!);
        requireRole(access, 'annotator');
        assertServesWork(access);
        const item = await loadItem(repos, access, params.itemId!);
        await updateItem(temporal, item.id, reserveUpdate, [{ annotatorId: principal.id }]);
        return detailAfter(principal, access, item.id);
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('heartbeat'),
      tag: 'annotate',
      summary: 'Keep the reservation alive. Extended only when less than half of the lease is left.',
      status: 200,
      response: api.reservationResponse,
      handler: async ({ principal, params }) => {
        const { access, item } = await itemFor(principal, params, 'annotator');
        const lease = ownLease(item, principal.id);
        // Coalesced here too: most heartbeats never reach the workflow's history.
        if (lease && lease.expiresAt - Date.now() >= (access.queue.reservationTimeoutSeconds * 1000) / 2) {
          return { item: { id: item.id, status: item.status }, reservation: { expiresAt: new Date(lease.expiresAt).toISOString(), round: lease.round } };
        }
        return updateItem(temporal, item.id, heartbeatUpdate, [{ annotatorId: principal.id }]);
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('release'),
      tag: 'annotate',
      summary: 'Give the seat back without submitting',
      status: 200,
      response: api.itemStatusResponse,
      handler: async ({ principal, params }) => {
        const { item } = await itemFor(principal, params, 'annotator');
        return updateItem(temporal, item.id, releaseUpdate, [{ annotatorId: principal.id }]);
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('skip'),
      tag: 'annotate',
      summary: 'Skip this item: the seat is freed and it is never offered to the caller again',
      status: 200,
      response: api.itemStatusResponse,
      handler: async ({ principal, params }) => {
        const { item } = await itemFor(principal, params, 'annotator');
        return updateItem(temporal, item.id, skipUpdate, [{ annotatorId: principal.id }]);
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('submit'),
      tag: 'annotate',
      summary:
        'Submit values for every required label; needs a live reservation. Idempotent by the Idempotency-Key header (same key + same body → the stored response; another body → 409).',
      body: api.submitBody,
      status: 200,
      response: api.submitResponse,
      handler: async ({ req, principal, params, body }) => {
        const { item } = await itemFor(principal, params, 'annotator');
        const givenKey = req.header('idempotency-key')?.trim();
        if (givenKey !== undefined && (givenKey.length === 0 || givenKey.length > MAX_IDEMPOTENCY_KEY)) {
          throw validationError(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY} characters.`);
        }
        const idempotencyKey = givenKey ?? randomUUID();
        const bodyHash = createHash('sha256')
          .update(JSON.stringify({ itemId: item.id, annotations: body.annotations }))
          .digest('hex');
        const replay = async () => {
          const stored = await repos.queues.storedSubmission(principal.id, idempotencyKey);
          if (!stored) return undefined;
          if (stored.bodyHash !== bodyHash) throw new DomainError('CONFLICT', 'This Idempotency-Key was already used with a different request body.');
          return stored.response;
        };
        const earlier = await replay();
        if (earlier) return earlier;
        const annotations = await prepareAnnotations(principal, body);
        try {
          const result = await updateItem(temporal, item.id, submitUpdate, [{ annotatorId: principal.id, idempotencyKey, bodyHash, annotations }], {
            updateId: `submit:${principal.id}:${idempotencyKey}`,
          });
          // Two requests with one key and different bodies at once: Temporal deduplicated them by update id, so check which body won.
          return (await replay()) ?? result;
        } catch (error) {
          // A concurrent retry with the same key may have won: answer as it did.
          const raced = await replay();
          if (raced) return raced;
          throw error;
        }
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('review'),
      tag: 'review',
      summary:
        'Approve (completes the item; `overrides` set the resolved value of labels) or request changes, optionally per label per annotator (only those annotators rework)',
      body: api.reviewBody,
      status: 200,
      response: api.itemStatusResponse,
      handler: async ({ principal, params, body }) => {
        const { access, item } = await itemFor(principal, params, 'reviewer');
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
        return updateItem(temporal, item.id, reviewUpdate, [
          { reviewerId: principal.id, action: body.action, comment: body.comment ?? null, targets, overrides },
        ]);
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('reset'),
      tag: 'items',
      summary: 'Reopen an item that every annotator skipped (manager or admin)',
      status: 200,
      response: api.itemStatusResponse,
      handler: async ({ principal, params }) => {
        const { item } = await itemFor(principal, params, 'manager');
        return updateItem(temporal, item.id, resetUpdate, [{ actorId: principal.id }]);
      },
    }),
    endpoint({
      method: 'get',
      path: itemPath('history'),
      tag: 'items',
      summary: "The item's timeline from Postgres: complete even after Temporal dropped the closed workflow",
      status: 200,
      response: api.historyResponse,
      handler: async ({ principal, params }) => {
        const access = await loadQueue(repos, principal, params.id!);
        const item = await loadItem(repos, access, params.itemId!);
        return { data: await repos.queues.history(item.id) };
      },
    }),
  ];
}

/**
 * Annotators asking at the same moment would all race for the same oldest item, and every lost race
 * costs a workflow task. Among open items that tie on partial-first and priority, each caller starts
 * at a random one of the first few: the order between ranks is kept, and the herd is spread.
 */
function spreadTies(candidates: NextCandidate[]): string[] {
  const personal = candidates.filter((c) => c.personal);
  const open = candidates.filter((c) => !c.personal);
  const tied = open.filter((c) => c.rank === open[0]?.rank).length;
  const start = Math.floor(Math.random() * Math.min(tied, 8));
  return [...personal, ...open.slice(start, tied), ...open.slice(0, start), ...open.slice(tied)].map((c) => c.id);
}

function noContent(res: Response): undefined {
  res.status(204).end();
  return undefined;
}
