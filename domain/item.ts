import { DomainError } from './errors.js';
import type { AssignmentStrategy } from './queues.js';

/**
 * The state of one queue item and every rule that changes it (DESIGN.md §4). Pure functions over a
 * plain object: the item workflow runs them in update validators (on a copy, to reject without
 * writing history) and in handlers (on the real state, synchronously, before any await).
 */
export const ITEM_STATUSES = ['pending', 'in_progress', 'pending_review', 'changes_requested', 'completed', 'skipped', 'cancelled'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];

/** A closed item's workflow has finished: nothing changes it again. */
export const CLOSED_STATUSES = ['completed', 'cancelled'] as const satisfies readonly ItemStatus[];

export function isClosedStatus(status: ItemStatus): boolean {
  return (CLOSED_STATUSES as readonly ItemStatus[]).includes(status);
}

export interface ItemLabel {
  labelId: string;
  key: string;
  required: boolean;
}

/** The queue's settings when the item was added: later changes apply to later items. */
export interface ItemConfig {
  annotationsRequired: number;
  reservationTimeoutMs: number;
  requiresReview: boolean;
  assignmentStrategy: AssignmentStrategy;
  labels: ItemLabel[];
}

/**
 * One annotator's place on the item. `assigned`: handed to them (by a manager or the rotation),
 * not started; `reserved`: they hold the lease; `submitted`: done for `round`; `rework`: a reviewer
 * sent them back and `round` is the one they must submit next (a lease while they work on it).
 */
export const SEAT_STATES = ['assigned', 'reserved', 'submitted', 'rework'] as const;

export type Seat =
  | { state: 'assigned'; annotatorId: string; round: number; deadline: number | null }
  | { state: 'reserved'; annotatorId: string; round: number; deadline: number }
  | { state: 'submitted'; annotatorId: string; round: number; submittedAt: number }
  | { state: 'rework'; annotatorId: string; round: number; deadline: number | null; comments: ReworkComment[] };

export interface ReworkComment {
  labelKey: string | null;
  comment: string;
}

export type ReviewState =
  | { state: 'none' }
  | { state: 'changes_requested'; reviewerId: string; comment: string | null; at: number }
  | { state: 'approved'; reviewerId: string; comment: string | null; at: number; overrides: ReviewOverride[] };

/** A reviewer's value for a label, which wins over the annotators' at finalization. */
export interface ReviewOverride {
  labelId: string;
  value: string | number | boolean | string[];
}

export interface ItemState {
  itemId: string;
  workspaceId: string;
  queueId: string;
  config: ItemConfig;
  /** Annotator members of the queue; kept current by the API's membership signal. */
  eligibleAnnotators: string[];
  seats: Record<string, Seat>;
  /** Annotators who skipped the item or left the queue: never offered it again. */
  skipped: string[];
  /** Annotators whose assignment lapsed unstarted: the rotation passes them over for this item. */
  lapsed: string[];
  review: ReviewState;
  status: ItemStatus;
  /** Incremented on every change; the read model only accepts a higher one. */
  version: number;
  /** Counter of rotation turns taken by this item, the key of the assignment activity. */
  turns: number;
}

export interface ItemEvent {
  event:
    | 'created'
    | 'assigned'
    | 'unassigned'
    | 'reserved'
    | 'heartbeat_extended'
    | 'released'
    | 'expired'
    | 'assignment_expired'
    | 'skipped'
    | 'submitted'
    | 'reviewed'
    | 'finalized'
    | 'cancelled'
    | 'reset'
    | 'member_removed';
  actorId: string | null;
  details: Record<string, unknown>;
  at: number;
}

const conflict = (message: string) => new DomainError('CONFLICT', message);

export function newItemState(input: { itemId: string; workspaceId: string; queueId: string; config: ItemConfig; eligibleAnnotators: string[] }): ItemState {
  return { ...input, seats: {}, skipped: [], lapsed: [], review: { state: 'none' }, status: 'pending', version: 0, turns: 0 };
}

function isClosed(state: ItemState): boolean {
  return isClosedStatus(state.status);
}

function assertOpen(state: ItemState): void {
  if (isClosed(state)) throw conflict(`The item is ${state.status}.`);
}

/** A seat counts against `annotationsRequired` unless its lease or assignment has lapsed. */
export function seatIsLive(seat: Seat, now: number): boolean {
  if (seat.state === 'reserved') return seat.deadline > now;
  if (seat.state === 'assigned') return seat.deadline === null || seat.deadline > now;
  return true;
}

export function occupiedSeats(state: ItemState, now: number): number {
  return Object.values(state.seats).filter((s) => seatIsLive(s, now)).length;
}

export function openSeats(state: ItemState, now: number): number {
  if (isClosed(state) || state.status === 'pending_review' || state.status === 'changes_requested' || state.status === 'skipped') return 0;
  return Math.max(0, state.config.annotationsRequired - occupiedSeats(state, now));
}

/** Whether a seat in this state with this deadline holds a running lease: a reservation, or rework being worked on. */
export function isLiveLease(seatState: Seat['state'], deadline: number | null, now: number): boolean {
  return (seatState === 'reserved' || seatState === 'rework') && deadline !== null && deadline > now;
}

/** The running lease of a seat, or null when there is none. */
export function liveLease(seat: Seat | undefined, now: number): { deadline: number; round: number } | null {
  if (!seat || !('deadline' in seat) || !isLiveLease(seat.state, seat.deadline, now)) return null;
  return { deadline: seat.deadline!, round: seat.round };
}

/**
 * The new deadline when a heartbeat should extend a lease, or null when it should not: only once
 * less than half of it is left, so heartbeats do not grow history every tick.
 */
export function extendedLease(deadline: number, timeoutMs: number, now: number): number | null {
  return deadline - now >= timeoutMs / 2 ? null : now + timeoutMs;
}

export type ReserveOutcome = { changed: boolean; expiresAt: number; round: number };

export function reserve(state: ItemState, annotatorId: string, now: number): ReserveOutcome {
  assertOpen(state);
  const leaseEnd = now + state.config.reservationTimeoutMs;
  const seat = state.seats[annotatorId];
  const lease = liveLease(seat, now);
  if (lease) return { changed: false, expiresAt: lease.deadline, round: lease.round };
  if (seat?.state === 'submitted') throw conflict('You already submitted this item.');
  if (seat?.state === 'rework') {
    state.seats[annotatorId] = { ...seat, deadline: leaseEnd };
    return { changed: true, expiresAt: leaseEnd, round: seat.round };
  }
  if (state.status === 'pending_review' || state.status === 'changes_requested') throw conflict('The item is in review: no seat is open.');
  if (state.status === 'skipped') throw conflict('The item was skipped by every annotator; a manager must reset it.');
  if (state.skipped.includes(annotatorId)) throw conflict('You skipped this item.');
  if (seat && seatIsLive(seat, now)) {
    // Their own assignment: taking it up needs no free seat.
    state.seats[annotatorId] = { state: 'reserved', annotatorId, round: seat.round, deadline: leaseEnd };
    return { changed: true, expiresAt: leaseEnd, round: seat.round };
  }
  if (occupiedSeats(state, now) >= state.config.annotationsRequired) throw conflict('No seat is available on this item.');
  state.seats[annotatorId] = { state: 'reserved', annotatorId, round: 1, deadline: leaseEnd };
  return { changed: true, expiresAt: leaseEnd, round: 1 };
}

/** Extends a lease only when less than half of it is left, so heartbeats do not grow history every tick. */
export function heartbeat(state: ItemState, annotatorId: string, now: number): ReserveOutcome {
  assertOpen(state);
  const seat = state.seats[annotatorId];
  const lease = liveLease(seat, now);
  if (!seat || !lease || (seat.state !== 'reserved' && seat.state !== 'rework')) throw conflict('You hold no live reservation on this item.');
  const extended = extendedLease(lease.deadline, state.config.reservationTimeoutMs, now);
  if (extended === null) return { changed: false, expiresAt: lease.deadline, round: lease.round };
  state.seats[annotatorId] = { ...seat, deadline: extended };
  return { changed: true, expiresAt: extended, round: lease.round };
}

export function release(state: ItemState, annotatorId: string, now: number): void {
  assertOpen(state);
  const seat = state.seats[annotatorId];
  if (!seat || !liveLease(seat, now)) throw conflict('You hold no live reservation on this item.');
  if (seat.state === 'rework') state.seats[annotatorId] = { ...seat, deadline: null };
  else delete state.seats[annotatorId];
}

export function skip(state: ItemState, annotatorId: string, now: number): void {
  assertOpen(state);
  const seat = state.seats[annotatorId];
  if (seat?.state === 'submitted') throw conflict('You already submitted this item.');
  if (seat?.state === 'rework') throw conflict('A reviewer asked you to rework this item; it cannot be skipped.');
  if (!seat && state.skipped.includes(annotatorId)) throw conflict('You already skipped this item.');
  if (!seat && openSeats(state, now) === 0) throw conflict('No seat is available on this item.');
  delete state.seats[annotatorId];
  if (!state.skipped.includes(annotatorId)) state.skipped.push(annotatorId);
}

/** Checks a submission's labels: every required label present, none foreign to the queue. */
export function missingRequiredLabels(config: ItemConfig, labelIds: string[]): ItemLabel[] {
  return config.labels.filter((l) => l.required && !labelIds.includes(l.labelId));
}

export function submit(state: ItemState, annotatorId: string, labelIds: string[], now: number): { round: number } {
  assertOpen(state);
  const seat = state.seats[annotatorId];
  if (seat?.state === 'submitted') throw conflict('You already submitted this item.');
  const lease = liveLease(seat, now);
  if (!lease) throw conflict('Your reservation has expired or you hold none: reserve the item again before submitting.');
  const foreign = labelIds.filter((id) => !state.config.labels.some((l) => l.labelId === id));
  if (foreign.length > 0)
    throw new DomainError('VALIDATION', `These labels are not part of this item (it keeps the labels its queue had when it was added): ${foreign.join(', ')}.`);
  if (new Set(labelIds).size !== labelIds.length) throw new DomainError('VALIDATION', 'Each label may appear once in a submission.');
  const missing = missingRequiredLabels(state.config, labelIds);
  if (missing.length > 0)
    throw new DomainError('VALIDATION', `Missing required labels: ${missing.map((l) => l.key).join(', ')}.`, { missing: missing.map((l) => l.key) });
  state.seats[annotatorId] = { state: 'submitted', annotatorId, round: lease.round, submittedAt: now };
  return { round: lease.round };
}

export interface ReviewTarget {
  annotatorId: string;
  labelKey: string | null;
  comment: string;
}

export function review(
  state: ItemState,
  reviewerId: string,
  action: 'approve' | 'request_changes',
  comment: string | null,
  targets: ReviewTarget[],
  overrides: ReviewOverride[],
  now: number,
): void {
  assertOpen(state);
  if (state.seats[reviewerId]) throw new DomainError('FORBIDDEN', 'You cannot review your own annotation.');
  if (state.status !== 'pending_review') throw conflict(`The item is ${state.status}, not awaiting review.`);
  if (state.review.state === 'approved') throw conflict('The item is already approved.');
  if (action === 'approve') {
    const foreign = overrides.filter((o) => !state.config.labels.some((l) => l.labelId === o.labelId));
    if (foreign.length > 0) throw new DomainError('VALIDATION', `overrides: ${foreign.map((o) => o.labelId).join(', ')} not a label of this item.`);
    state.review = { state: 'approved', reviewerId, comment, at: now, overrides };
    return;
  }
  const submitted = Object.values(state.seats).filter((s) => s.state === 'submitted');
  const targeted = targets.length > 0 ? [...new Set(targets.map((t) => t.annotatorId))] : submitted.map((s) => s.annotatorId);
  const unknown = targeted.filter((id) => state.seats[id]?.state !== 'submitted');
  if (unknown.length > 0) throw new DomainError('VALIDATION', `targets: ${unknown.join(', ')} did not annotate this item.`);
  for (const annotatorId of targeted) {
    const seat = state.seats[annotatorId]!;
    state.seats[annotatorId] = {
      state: 'rework',
      annotatorId,
      round: seat.round + 1,
      deadline: null,
      comments: targets.filter((t) => t.annotatorId === annotatorId).map((t) => ({ labelKey: t.labelKey, comment: t.comment })),
    };
  }
  state.review = { state: 'changes_requested', reviewerId, comment, at: now };
}

/** Manager pins (manual assignment): add, remove, or set exactly these people. */
export function pin(state: ItemState, annotatorIds: string[], action: 'add' | 'remove' | 'set', now: number): { added: string[]; removed: string[] } {
  assertOpen(state);
  const added: string[] = [];
  const removed: string[] = [];
  const pinned = Object.values(state.seats)
    .filter((s) => s.state === 'assigned')
    .map((s) => s.annotatorId);
  const toRemove = action === 'remove' ? annotatorIds : action === 'set' ? pinned.filter((id) => !annotatorIds.includes(id)) : [];
  for (const id of toRemove) {
    if (state.seats[id]?.state === 'assigned') {
      delete state.seats[id];
      removed.push(id);
    }
  }
  if (action !== 'remove') {
    for (const id of annotatorIds) {
      if (state.seats[id]) continue;
      // A skipped item can be handed to someone by a manager: only real seats count here.
      const free = state.status === 'skipped' ? state.config.annotationsRequired - occupiedSeats(state, now) : openSeats(state, now);
      if (free <= 0) throw conflict(`No seat is available on item ${state.itemId} for ${id}.`);
      state.seats[id] = { state: 'assigned', annotatorId: id, round: 1, deadline: null };
      state.skipped = state.skipped.filter((s) => s !== id);
      added.push(id);
    }
  }
  return { added, removed };
}

/** A rotation turn (round robin / load balanced): the seat must be started within the timeout. */
export function assignTurn(state: ItemState, annotatorId: string, now: number): boolean {
  if (isClosed(state) || state.seats[annotatorId] || openSeats(state, now) === 0) return false;
  state.seats[annotatorId] = { state: 'assigned', annotatorId, round: 1, deadline: now + state.config.reservationTimeoutMs };
  return true;
}

/** Frees lapsed leases and assignments; returns what happened, for the timeline. */
export function expireLapsed(state: ItemState, now: number): ItemEvent[] {
  const events: ItemEvent[] = [];
  for (const seat of Object.values(state.seats)) {
    if (seat.state === 'reserved' && seat.deadline <= now) {
      delete state.seats[seat.annotatorId];
      events.push({ event: 'expired', actorId: seat.annotatorId, details: { deadline: new Date(seat.deadline).toISOString() }, at: now });
    } else if (seat.state === 'assigned' && seat.deadline !== null && seat.deadline <= now) {
      delete state.seats[seat.annotatorId];
      if (!state.lapsed.includes(seat.annotatorId)) state.lapsed.push(seat.annotatorId);
      events.push({ event: 'assignment_expired', actorId: seat.annotatorId, details: { deadline: new Date(seat.deadline).toISOString() }, at: now });
    } else if (seat.state === 'rework' && seat.deadline !== null && seat.deadline <= now) {
      state.seats[seat.annotatorId] = { ...seat, deadline: null };
      events.push({ event: 'expired', actorId: seat.annotatorId, details: { rework: true, deadline: new Date(seat.deadline).toISOString() }, at: now });
    }
  }
  return events;
}

/** The next moment something lapses, or null when nothing will. */
export function nextDeadline(state: ItemState): number | null {
  const deadlines = Object.values(state.seats).flatMap((s) => ('deadline' in s && s.deadline !== null ? [s.deadline] : []));
  return deadlines.length ? Math.min(...deadlines) : null;
}

/** A member left the queue: their unstarted or live seats are freed; submitted work stays. */
export function removeMember(state: ItemState, annotatorId: string): boolean {
  state.eligibleAnnotators = state.eligibleAnnotators.filter((id) => id !== annotatorId);
  const seat = state.seats[annotatorId];
  if (!seat || seat.state === 'submitted') return false;
  delete state.seats[annotatorId];
  if (!state.skipped.includes(annotatorId)) state.skipped.push(annotatorId);
  return true;
}

/** Removes the item from its queue; returns false when it was already cancelled. */
export function cancel(state: ItemState): boolean {
  if (state.status === 'completed') throw conflict('The item is completed; it cannot be cancelled.');
  if (state.status === 'cancelled') return false;
  state.status = 'cancelled';
  return true;
}

export function resetSkipped(state: ItemState): void {
  if (state.status !== 'skipped') throw conflict(`Only a skipped item can be reset; this one is ${state.status}.`);
  state.skipped = [];
  state.lapsed = [];
}

/** Whether every seat has been submitted (for the current rounds) and no rework is outstanding. */
export function allSubmitted(state: ItemState): boolean {
  const seats = Object.values(state.seats);
  return seats.filter((s) => s.state === 'submitted').length >= state.config.annotationsRequired && !seats.some((s) => s.state === 'rework');
}

/** Whether the item should be finalized now: approved by a reviewer, or every seat submitted when no review is needed. */
export function readyToFinalize(state: ItemState): boolean {
  if (isClosed(state)) return false;
  return state.review.state === 'approved' || (!state.config.requiresReview && allSubmitted(state));
}

/** The status that the seats imply; closed statuses and an approval are set by the workflow itself. */
export function deriveStatus(state: ItemState, now: number): ItemStatus {
  if (isClosed(state)) return state.status;
  const seats = Object.values(state.seats).filter((s) => seatIsLive(s, now));
  if (seats.some((s) => s.state === 'rework')) return 'changes_requested';
  if (allSubmitted(state)) return state.config.requiresReview ? 'pending_review' : 'in_progress';
  const everyoneLeft = state.eligibleAnnotators.length > 0 && state.eligibleAnnotators.every((id) => state.skipped.includes(id) || state.seats[id]);
  if (seats.length === 0 && state.skipped.length > 0 && everyoneLeft) return 'skipped';
  return seats.some((s) => s.state === 'reserved' || s.state === 'submitted') ? 'in_progress' : 'pending';
}

/** Who is on the item now (assigned, holding a lease, or reworking): the Temporal search attribute. */
export function assignees(state: ItemState): string[] {
  return Object.values(state.seats)
    .filter((s) => s.state !== 'submitted')
    .map((s) => s.annotatorId)
    .sort();
}

/** What the read model (queue_items) stores of the state, written by the workflow's persist activity. */
export interface ItemReadModel {
  itemId: string;
  version: number;
  status: ItemStatus;
  seatsOccupied: number;
  submittedCount: number;
  reservedBy: string[];
  assignedTo: string[];
  submittedBy: string[];
  reworkFor: string[];
  skippedBy: string[];
  seats: SeatView[];
  review: ReviewState;
}

/** A live seat as the read model shows it. */
export interface SeatView {
  annotatorId: string;
  state: Seat['state'];
  round: number;
  expiresAt: string | null;
}

/** The caller's running lease on an item, read from its read model's seats (the same rule as `liveLease`). */
export function ownLease(seats: readonly SeatView[], annotatorId: string, now: number): { deadline: number; round: number } | null {
  const seat = seats.find((s) => s.annotatorId === annotatorId);
  if (!seat) return null;
  const deadline = seat.expiresAt === null ? null : Date.parse(seat.expiresAt);
  return isLiveLease(seat.state, deadline, now) ? { deadline: deadline!, round: seat.round } : null;
}

export function readModelOf(state: ItemState, now: number): ItemReadModel {
  const live = Object.values(state.seats).filter((s) => seatIsLive(s, now));
  const by = (st: Seat['state']) =>
    live
      .filter((s) => s.state === st)
      .map((s) => s.annotatorId)
      .sort();
  return {
    itemId: state.itemId,
    version: state.version,
    status: state.status,
    seatsOccupied: Math.min(live.length, state.config.annotationsRequired),
    submittedCount: by('submitted').length,
    reservedBy: [...by('reserved'), ...live.filter((s) => s.state === 'rework' && s.deadline !== null).map((s) => s.annotatorId)].sort(),
    assignedTo: by('assigned'),
    submittedBy: by('submitted'),
    reworkFor: by('rework'),
    skippedBy: [...state.skipped].sort(),
    seats: live.map((s) => ({
      annotatorId: s.annotatorId,
      state: s.state,
      round: s.round,
      expiresAt: 'deadline' in s && s.deadline !== null ? new Date(s.deadline).toISOString() : null,
    })),
    review: state.review,
  };
}
