import { ITEM_STATUSES, SEAT_STATES, type ItemReadModel, type ReviewOverride, type ReviewState, type SeatView } from '../../../domain/item.js';
import type { SourceType } from '../../../domain/sources.js';
import { iso, isoOrNull, num, numOrNull, oneOf, record, str, strOrNull, texts, type Row } from '../rows.js';
import { sourceType } from '../sources.repo.js';

/** An item as read from Postgres: the workflow's read model (domain/item.ts) plus what the add request wrote. */
export interface ItemRecord extends Omit<ItemReadModel, 'itemId'> {
  id: string;
  queueId: string;
  sourceId: string;
  sourceType: SourceType;
  sourceExternalId: string;
  priority: number;
  seatsRequired: number;
  /** The lease length the item's workflow uses (its queue's setting when it was added); null for items added before it was recorded. */
  reservationTimeoutMs: number | null;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
}

/** A `next` candidate: `personal` when it is already the caller's; `rank` groups open items that tie on partial-first and priority. */
export interface NextCandidate {
  id: string;
  personal: boolean;
  rank: string;
}

export interface ItemFilter {
  status?: ItemRecord['status'];
  assignee?: string;
  sourceType?: SourceType;
}

function toSeat(value: unknown): SeatView {
  const seat = record(value);
  return {
    annotatorId: str(seat.annotatorId),
    state: oneOf(SEAT_STATES, seat.state, 'seat state'),
    round: num(seat.round),
    expiresAt: strOrNull(seat.expiresAt),
  };
}

function toOverride(value: unknown): ReviewOverride {
  const o = record(value);
  return { labelId: str(o.labelId), value: o.value as ReviewOverride['value'] };
}

function toReview(value: unknown): ReviewState {
  const r = record(value);
  if (r.state === 'changes_requested') return { state: 'changes_requested', reviewerId: str(r.reviewerId), comment: strOrNull(r.comment), at: num(r.at) };
  if (r.state === 'approved') {
    return {
      state: 'approved',
      reviewerId: str(r.reviewerId),
      comment: strOrNull(r.comment),
      at: num(r.at),
      overrides: Array.isArray(r.overrides) ? r.overrides.map(toOverride) : [],
    };
  }
  return { state: 'none' };
}

export function toItem(row: Row): ItemRecord {
  return {
    id: str(row.id),
    queueId: str(row.queue_id),
    sourceId: str(row.source_id),
    sourceType: sourceType(row.source_type),
    sourceExternalId: str(row.source_external_id),
    priority: num(row.priority),
    status: oneOf(ITEM_STATUSES, row.status, 'item status'),
    version: num(row.version),
    seatsRequired: num(row.seats_required),
    reservationTimeoutMs: numOrNull(row.reservation_timeout_ms),
    seatsOccupied: num(row.seats_occupied),
    submittedCount: num(row.submitted_count),
    reservedBy: texts(row.reserved_by),
    assignedTo: texts(row.assigned_to),
    submittedBy: texts(row.submitted_by),
    reworkFor: texts(row.rework_for),
    skippedBy: texts(row.skipped_by),
    seats: Array.isArray(row.seats) ? row.seats.map(toSeat) : [],
    review: toReview(row.review),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
    closedAt: isoOrNull(row.closed_at),
  };
}
