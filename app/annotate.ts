import { DomainError } from '../domain/errors.js';
import { extendedLease, ownLease } from '../domain/item.js';
import type { Principal } from '../domain/principals.js';
import { queueServesWork } from '../domain/queues.js';
import type { ItemRecord, NextCandidate } from '../infra/repositories/items/index.js';
import { heartbeatUpdate, releaseUpdate, reserveUpdate, skipUpdate, type ItemStatusResult, type SeatResult } from '../workflows/definitions.js';
import type { AppDeps } from './deps.js';
import { itemDetailNow, type ItemDetail } from './item-detail.js';
import { rejectionCode, updateItem } from './item-workflows.js';
import type { QueueAccess } from './queue-access.js';

// An annotator's own seat: next, reserve, heartbeat, release, skip. Each an update on the item's workflow, which has the last word.

/** How long `next` keeps trying items that are only busy before it answers 429 (refusals arrive within 1 s). */
const BUSY_GIVE_UP_MS = 800;

function assertServesWork(access: QueueAccess): void {
  const serves = queueServesWork(access.queue.status);
  if (!serves.ok) throw new DomainError('CONFLICT', serves.message);
}

/**
 * Reserves the best item for the caller (DESIGN.md §4 `next`), or null when no seat is available to
 * them. A lost race moves on to the next candidate; busy items are tried again on a later pass, and
 * when only busy ones are left after BUSY_GIVE_UP_MS the answer is a quick 429, not a wait.
 */
export async function nextItem(deps: AppDeps, principal: Principal, access: QueueAccess): Promise<ItemDetail | null> {
  assertServesWork(access);
  const started = Date.now();
  const deadline = started + deps.temporal.requestDeadlineMs;
  const refused: string[] = [];
  for (let pass = 0; Date.now() < deadline - 250 && Date.now() - started < BUSY_GIVE_UP_MS; pass++) {
    const candidates = await deps.repos.items.nextCandidates(access.queue.id, principal.id, 10, refused);
    if (candidates.length === 0) return null;
    for (const itemId of spreadTies(candidates)) {
      try {
        await updateItem(deps.temporal, itemId, reserveUpdate, [{ annotatorId: principal.id }], { deadline });
        return itemDetailNow(deps, principal, access, itemId);
      } catch (error) {
        const code = rejectionCode(error);
        // Lost the race for this item (or it closed meanwhile): never ask it again in this request.
        if (code === 'CONFLICT') refused.push(itemId);
        // Too many callers on this item right now: try the next one, come back to it on a later pass.
        else if (code !== 'RATE_LIMITED') throw error;
      }
    }
    await new Promise((r) => setTimeout(r, Math.min(200, 20 * 2 ** pass) * (0.5 + Math.random())));
  }
  throw new DomainError('RATE_LIMITED', 'Every candidate item is busy; retry shortly.');
}

/** The next item awaiting the caller's review, or null. */
export async function nextForReview(deps: AppDeps, principal: Principal, access: QueueAccess): Promise<ItemDetail | null> {
  const itemId = await deps.repos.items.nextForReview(access.queue.id, principal.id);
  return itemId ? itemDetailNow(deps, principal, access, itemId) : null;
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

/** The update id of an annotator's action sent with an Idempotency-Key: a retry with the key gets the first one's answer. */
const actionId = (action: string, principal: Principal, idempotencyKey: string | undefined) =>
  idempotencyKey === undefined ? undefined : `${action}:${principal.id}:${idempotencyKey}`;

export async function reserveItem(deps: AppDeps, principal: Principal, access: QueueAccess, item: ItemRecord, idempotencyKey?: string): Promise<ItemDetail> {
  assertServesWork(access);
  await updateItem(deps.temporal, item.id, reserveUpdate, [{ annotatorId: principal.id }], { updateId: actionId('reserve', principal, idempotencyKey) });
  return itemDetailNow(deps, principal, access, item.id);
}

/** Keeps a lease alive. Coalesced here by the workflow's own rule, so most heartbeats never reach its history. */
export async function heartbeatItem({ temporal }: AppDeps, principal: Principal, item: ItemRecord): Promise<SeatResult> {
  const now = Date.now();
  const lease = ownLease(item.seats, principal.id, now);
  if (lease && item.reservationTimeoutMs !== null && extendedLease(lease.deadline, item.reservationTimeoutMs, now) === null) {
    return { item: { id: item.id, status: item.status }, reservation: { expiresAt: new Date(lease.deadline).toISOString(), round: lease.round } };
  }
  return updateItem(temporal, item.id, heartbeatUpdate, [{ annotatorId: principal.id }]);
}

export function releaseItem({ temporal }: AppDeps, principal: Principal, item: ItemRecord, idempotencyKey?: string): Promise<ItemStatusResult> {
  return updateItem(temporal, item.id, releaseUpdate, [{ annotatorId: principal.id }], { updateId: actionId('release', principal, idempotencyKey) });
}

export function skipItem({ temporal }: AppDeps, principal: Principal, item: ItemRecord, idempotencyKey?: string): Promise<ItemStatusResult> {
  return updateItem(temporal, item.id, skipUpdate, [{ annotatorId: principal.id }], { updateId: actionId('skip', principal, idempotencyKey) });
}
