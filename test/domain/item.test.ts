import { describe, expect, it } from 'vitest';
import { DomainError } from '../../domain/errors.js';
import * as item from '../../domain/item.js';

const config: item.ItemConfig = {
  annotationsRequired: 2,
  reservationTimeoutMs: 1000,
  requiresReview: true,
  assignmentStrategy: 'manual',
  labels: [{ labelId: 'L1', key: 'rating', required: true }],
};
const fresh = (overrides: Partial<item.ItemConfig> = {}) =>
  item.newItemState({ itemId: 'i', workspaceId: 'w', queueId: 'q', config: { ...config, ...overrides }, eligibleAnnotators: ['a', 'b', 'c'] });

function rejects(fn: () => unknown, code: string, message?: RegExp) {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe(code);
    if (message) expect((error as DomainError).message).toMatch(message);
    return;
  }
  throw new Error('expected a rejection');
}

describe('the item rules', () => {
  it('never gives out more seats than annotationsRequired, counting lapsed leases as free', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.reserve(s, 'b', 0);
    rejects(() => item.reserve(s, 'c', 500), 'CONFLICT', /No seat/);
    expect(item.reserve(s, 'c', 1500).changed).toBe(true);
    expect(item.occupiedSeats(s, 1500)).toBe(1);
  });

  it('refuses a second review once the item is approved', () => {
    const s = fresh();
    for (const a of ['a', 'b']) {
      item.reserve(s, a, 0);
      item.submit(s, a, ['L1'], 1);
    }
    s.status = item.deriveStatus(s, 2);
    expect(s.status).toBe('pending_review');
    item.review(s, 'r1', 'approve', null, [], [], 3);
    rejects(() => item.review(s, 'r2', 'request_changes', 'no', [], [], 4), 'CONFLICT', /already approved/);
    expect(Object.values(s.seats).every((seat) => seat.state === 'submitted')).toBe(true);
  });

  it('forbids a reviewer who holds a seat from reviewing', () => {
    const s = fresh();
    for (const a of ['a', 'b']) {
      item.reserve(s, a, 0);
      item.submit(s, a, ['L1'], 1);
    }
    s.status = item.deriveStatus(s, 2);
    rejects(() => item.review(s, 'a', 'approve', null, [], [], 3), 'FORBIDDEN', /^You cannot review your own annotation\.$/);
  });

  it('lets a manager hand a skipped item to someone', () => {
    const s = fresh({ annotationsRequired: 1, requiresReview: false });
    for (const a of ['a', 'b', 'c']) item.skip(s, a, 0);
    s.status = item.deriveStatus(s, 0);
    expect(s.status).toBe('skipped');
    expect(item.pin(s, ['a'], 'add', 1).added).toEqual(['a']);
    expect(item.deriveStatus(s, 1)).toBe('pending');
  });

  it('frees the seat of a member who left and keeps their submitted work', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.reserve(s, 'b', 0);
    item.submit(s, 'b', ['L1'], 1);
    expect(item.removeMember(s, 'a')).toBe(true);
    expect(item.removeMember(s, 'b')).toBe(false);
    expect(Object.keys(s.seats)).toEqual(['b']);
    expect(s.skipped).toEqual(['a']);
  });

  it('names the missing required labels', () => {
    const s = fresh({ labels: [...config.labels, { labelId: 'L2', key: 'safety', required: true }, { labelId: 'L3', key: 'notes', required: false }] });
    item.reserve(s, 'a', 0);
    rejects(() => item.submit(s, 'a', ['L3'], 1), 'VALIDATION', /^Missing required labels: rating, safety\.$/);
    rejects(() => item.submit(s, 'a', ['L1', 'L2', 'X'], 1), 'VALIDATION', /not part of this item/);
  });
});
