import type { Response } from 'express';
import * as api from '../../domain/api.js';
import { heartbeatItem, nextForReview, nextItem, releaseItem, reserveItem, skipItem } from '../../app/annotate.js';
import type { AppDeps } from '../../app/deps.js';
import { buildItemDetail, type ItemDetail } from '../../app/item-detail.js';
import { cancelItem, resetItem } from '../../app/item-management.js';
import { loadItem, loadItemAs, loadQueue, requireRole } from '../../app/queue-access.js';
import { reviewItem } from '../../app/review-item.js';
import { idempotencyKeyOf, optionalIdempotencyKey, submitAnnotations } from '../../app/submit-annotations.js';
import { endpoint } from '../endpoint.js';

const itemPath = (action: string) => `/api/v1/queues/:id/items/:itemId/${action}`;

function orNoContent(res: Response, detail: ItemDetail | null): ItemDetail | undefined {
  if (detail) return detail;
  res.status(204).end();
  return undefined;
}

/** Annotator and reviewer actions on one item: each an update on the item's workflow, which has the last word. */
export function itemActionEndpoints(deps: AppDeps) {
  const { repos } = deps;
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
        return buildItemDetail(deps, principal, access, await loadItem(repos, access, params.itemId!));
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
        const { item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'manager');
        if (item.status === 'cancelled') return { item: { id: item.id, status: item.status } };
        return cancelItem(deps, item.id, principal.id);
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
        requireRole(access, query.mode === 'review' ? 'reviewer' : 'annotator');
        return orNoContent(res, query.mode === 'review' ? await nextForReview(deps, principal, access) : await nextItem(deps, principal, access));
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('reserve'),
      tag: 'annotate',
      summary: 'Reserve a seat on this item (409 when none is open to the caller)',
      status: 200,
      response: api.itemDetail,
      handler: async ({ req, principal, params }) => {
        const { access, item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'annotator');
        return reserveItem(deps, principal, access, item, optionalIdempotencyKey(req.header('idempotency-key')));
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
        const { item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'annotator');
        return heartbeatItem(deps, principal, item);
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('release'),
      tag: 'annotate',
      summary: 'Give the seat back without submitting',
      status: 200,
      response: api.itemStatusResponse,
      handler: async ({ req, principal, params }) => {
        const { item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'annotator');
        return releaseItem(deps, principal, item, optionalIdempotencyKey(req.header('idempotency-key')));
      },
    }),
    endpoint({
      method: 'post',
      path: itemPath('skip'),
      tag: 'annotate',
      summary: 'Skip this item: the seat is freed and it is never offered to the caller again',
      status: 200,
      response: api.itemStatusResponse,
      handler: async ({ req, principal, params }) => {
        const { item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'annotator');
        return skipItem(deps, principal, item, optionalIdempotencyKey(req.header('idempotency-key')));
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
        const { item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'annotator');
        return submitAnnotations(deps, principal, item, body, idempotencyKeyOf(req.header('idempotency-key')));
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
      handler: async ({ req, principal, params, body }) => {
        const { access, item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'reviewer');
        return reviewItem(deps, principal, access, item, body, optionalIdempotencyKey(req.header('idempotency-key')));
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
        const { item } = await loadItemAs(repos, principal, params.id!, params.itemId!, 'manager');
        return resetItem(deps, item.id, principal.id);
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
        return { data: await repos.items.history(item.id) };
      },
    }),
  ];
}
