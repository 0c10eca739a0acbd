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

// ---------------------------------------------------------------------------------------------
// Rule by rule. Times are plain milliseconds: with the default config a lease taken at 0 ends at 1000.
// ---------------------------------------------------------------------------------------------

const TIMEOUT = config.reservationTimeoutMs;

/** The DomainError `fn` throws, checked for its exact code and message. */
function refuses(fn: () => unknown, code: string, message: string): DomainError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error(`expected a rejection: ${message}`);
  expect(thrown).toBeInstanceOf(DomainError);
  expect((thrown as DomainError).code).toBe(code);
  expect((thrown as DomainError).message).toBe(message);
  return thrown as DomainError;
}

/** Reserves and submits for each annotator (reserve at `at`, submit at `at + 1`). */
function submitAll(s: item.ItemState, annotators: string[], at = 0): void {
  for (const a of annotators) {
    item.reserve(s, a, at);
    item.submit(s, a, ['L1'], at + 1);
  }
}

/** An item with a and b submitted (round 1), awaiting review. */
function inReview(overrides: Partial<item.ItemConfig> = {}): item.ItemState {
  const s = fresh(overrides);
  submitAll(s, ['a', 'b']);
  s.status = item.deriveStatus(s, 2);
  expect(s.status).toBe('pending_review');
  return s;
}

/** An item whose reviewer sent `targets` (default: everyone) back to rework at t=10. */
function reworking(targets: item.ReviewTarget[] = []): item.ItemState {
  const s = inReview();
  item.review(s, 'rev', 'request_changes', 'please fix', targets, [], 10);
  s.status = item.deriveStatus(s, 10);
  expect(s.status).toBe('changes_requested');
  return s;
}

const withStatus = (status: item.ItemStatus, overrides: Partial<item.ItemConfig> = {}) => {
  const s = fresh(overrides);
  s.status = status;
  return s;
};

describe('newItemState', () => {
  it('starts pending with no seats, skips, lapses or review, at version 0 and turn 0', () => {
    const s = fresh();
    expect(s).toEqual({
      itemId: 'i',
      workspaceId: 'w',
      queueId: 'q',
      config,
      eligibleAnnotators: ['a', 'b', 'c'],
      seats: {},
      skipped: [],
      lapsed: [],
      review: { state: 'none' },
      status: 'pending',
      version: 0,
      turns: 0,
    });
  });
});

describe('statuses', () => {
  it('knows completed and cancelled as the closed statuses', () => {
    expect(item.CLOSED_STATUSES).toEqual(['completed', 'cancelled']);
  });

  it.each([
    ['pending', false],
    ['in_progress', false],
    ['pending_review', false],
    ['changes_requested', false],
    ['skipped', false],
    ['completed', true],
    ['cancelled', true],
  ] as const)('isClosedStatus(%s) is %s', (status, closed) => {
    expect(item.isClosedStatus(status)).toBe(closed);
  });
});

describe('seatIsLive', () => {
  it.each<[string, item.Seat, boolean]>([
    ['a reservation before its deadline', { state: 'reserved', annotatorId: 'a', round: 1, deadline: 101 }, true],
    ['a reservation at its deadline', { state: 'reserved', annotatorId: 'a', round: 1, deadline: 100 }, false],
    ['a pinned assignment (no deadline)', { state: 'assigned', annotatorId: 'a', round: 1, deadline: null }, true],
    ['a rotation assignment before its deadline', { state: 'assigned', annotatorId: 'a', round: 1, deadline: 101 }, true],
    ['a rotation assignment at its deadline', { state: 'assigned', annotatorId: 'a', round: 1, deadline: 100 }, false],
    ['a submission', { state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 0 }, true],
    ['rework without a lease', { state: 'rework', annotatorId: 'a', round: 2, deadline: null, comments: [] }, true],
    ['rework whose lease lapsed', { state: 'rework', annotatorId: 'a', round: 2, deadline: 50, comments: [] }, true],
  ])('%s at t=100 → %s', (_name, seat, live) => {
    expect(item.seatIsLive(seat, 100)).toBe(live);
  });
});

describe('occupiedSeats and openSeats', () => {
  it('counts live seats of every kind and leaves lapsed reservations and assignments out', () => {
    const s = fresh({ annotationsRequired: 10 });
    s.seats = {
      r: { state: 'reserved', annotatorId: 'r', round: 1, deadline: 200 },
      p: { state: 'assigned', annotatorId: 'p', round: 1, deadline: null },
      t: { state: 'assigned', annotatorId: 't', round: 1, deadline: 200 },
      s: { state: 'submitted', annotatorId: 's', round: 1, submittedAt: 0 },
      w: { state: 'rework', annotatorId: 'w', round: 2, deadline: null, comments: [] },
      xr: { state: 'reserved', annotatorId: 'xr', round: 1, deadline: 100 },
      xt: { state: 'assigned', annotatorId: 'xt', round: 1, deadline: 50 },
    };
    expect(item.occupiedSeats(s, 100)).toBe(5);
    expect(item.openSeats(s, 100)).toBe(5);
    expect(item.occupiedSeats(s, 200)).toBe(3);
    expect(item.openSeats(s, 200)).toBe(7);
  });

  it('opens annotationsRequired minus the occupied seats', () => {
    const s = fresh({ annotationsRequired: 3 });
    expect(item.openSeats(s, 0)).toBe(3);
    item.reserve(s, 'a', 0);
    expect(item.occupiedSeats(s, 0)).toBe(1);
    expect(item.openSeats(s, 0)).toBe(2);
  });

  it('never opens a negative number of seats', () => {
    const s = fresh({ annotationsRequired: 1 });
    s.seats = {
      a: { state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 0 },
      b: { state: 'submitted', annotatorId: 'b', round: 1, submittedAt: 0 },
    };
    expect(item.occupiedSeats(s, 0)).toBe(2);
    expect(item.openSeats(s, 0)).toBe(0);
  });

  it.each(['pending_review', 'changes_requested', 'skipped', 'completed', 'cancelled'] as const)('opens no seat while the item is %s', (status) => {
    const s = withStatus(status);
    expect(item.occupiedSeats(s, 0)).toBe(0);
    expect(item.openSeats(s, 0)).toBe(0);
  });
});

describe('isLiveLease', () => {
  it.each<[item.Seat['state'], number | null, boolean]>([
    ['reserved', 101, true],
    ['reserved', 100, false],
    ['reserved', 99, false],
    ['rework', 101, true],
    ['rework', 100, false],
    ['rework', null, false],
    ['assigned', 101, false],
    ['assigned', null, false],
    ['submitted', 101, false],
    ['submitted', null, false],
  ])('a %s seat with deadline %s at t=100 → %s', (state, deadline, live) => {
    expect(item.isLiveLease(state, deadline, 100)).toBe(live);
  });
});

describe('liveLease', () => {
  it('is the deadline and round of a live reservation', () => {
    expect(item.liveLease({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 101 }, 100)).toEqual({ deadline: 101, round: 1 });
  });

  it('is the deadline and round of a live rework lease', () => {
    expect(item.liveLease({ state: 'rework', annotatorId: 'a', round: 3, deadline: 150, comments: [] }, 100)).toEqual({ deadline: 150, round: 3 });
  });

  it.each<[string, item.Seat | undefined]>([
    ['no seat', undefined],
    ['a reservation at its deadline', { state: 'reserved', annotatorId: 'a', round: 1, deadline: 100 }],
    ['rework without a lease', { state: 'rework', annotatorId: 'a', round: 2, deadline: null, comments: [] }],
    ['rework whose lease lapsed', { state: 'rework', annotatorId: 'a', round: 2, deadline: 99, comments: [] }],
    ['a live assignment', { state: 'assigned', annotatorId: 'a', round: 1, deadline: 500 }],
    ['a pinned assignment', { state: 'assigned', annotatorId: 'a', round: 1, deadline: null }],
    ['a submission', { state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 0 }],
  ])('is null for %s', (_name, seat) => {
    expect(item.liveLease(seat, 100)).toBeNull();
  });
});

describe('extendedLease', () => {
  it('does not extend while more than half of the lease is left', () => {
    expect(item.extendedLease(1000, 1000, 400)).toBeNull();
    expect(item.extendedLease(1000, 1000, 0)).toBeNull();
  });

  it('does not extend when exactly half is left', () => {
    expect(item.extendedLease(1000, 1000, 500)).toBeNull();
  });

  it('extends to now + timeout once less than half is left', () => {
    expect(item.extendedLease(1000, 1000, 501)).toBe(1501);
    expect(item.extendedLease(1000, 1000, 999)).toBe(1999);
  });

  it('compares with half of an odd timeout without rounding', () => {
    expect(item.extendedLease(1000, 999, 500)).toBeNull(); // 500 left ≥ 499.5
    expect(item.extendedLease(1000, 1001, 500)).toBe(1501); // 500 left < 500.5
  });
});

describe('reserve', () => {
  it('gives a free seat as a new round-1 reservation lasting the timeout', () => {
    const s = fresh();
    expect(item.reserve(s, 'a', 100)).toEqual({ changed: true, expiresAt: 100 + TIMEOUT, round: 1 });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1100 });
  });

  it('returns the live lease unchanged when reserved again', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.reserve(s, 'a', 999)).toEqual({ changed: false, expiresAt: 1000, round: 1 });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1000 });
  });

  it('returns the live lease even when every other seat is taken', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.reserve(s, 'b', 0);
    expect(item.reserve(s, 'a', 10)).toEqual({ changed: false, expiresAt: 1000, round: 1 });
  });

  it('gives a new lease, round 1, to a holder whose reservation lapsed if a seat is free', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.reserve(s, 'a', 1000)).toEqual({ changed: true, expiresAt: 2000, round: 1 });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 2000 });
  });

  it("takes up the caller's own pinned assignment without needing a free seat", () => {
    const s = fresh();
    item.pin(s, ['a', 'b'], 'add', 0);
    expect(item.openSeats(s, 0)).toBe(0);
    expect(item.reserve(s, 'a', 5)).toEqual({ changed: true, expiresAt: 1005, round: 1 });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1005 });
    expect(item.occupiedSeats(s, 5)).toBe(2);
  });

  it('takes up a rotation assignment before it lapses, keeping its round', () => {
    const s = fresh();
    s.seats.a = { state: 'assigned', annotatorId: 'a', round: 1, deadline: 500 };
    s.seats.b = { state: 'reserved', annotatorId: 'b', round: 1, deadline: 900 };
    expect(item.reserve(s, 'a', 499)).toEqual({ changed: true, expiresAt: 1499, round: 1 });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1499 });
  });

  it('treats a lapsed assignment like no seat: refused when the others are full', () => {
    const s = fresh();
    s.seats.a = { state: 'assigned', annotatorId: 'a', round: 1, deadline: 500 };
    item.reserve(s, 'b', 500);
    item.reserve(s, 'c', 500);
    refuses(() => item.reserve(s, 'a', 500), 'CONFLICT', 'No seat is available on this item.');
  });

  it('gives a reworking annotator a rework lease for their next round, keeping the comments', () => {
    const s = reworking([{ annotatorId: 'a', labelKey: 'rating', comment: 'too high' }]);
    expect(item.reserve(s, 'a', 20)).toEqual({ changed: true, expiresAt: 1020, round: 2 });
    expect(s.seats.a).toEqual({ state: 'rework', annotatorId: 'a', round: 2, deadline: 1020, comments: [{ labelKey: 'rating', comment: 'too high' }] });
  });

  it('returns the live rework lease unchanged when reserved again', () => {
    const s = reworking();
    item.reserve(s, 'a', 20);
    expect(item.reserve(s, 'a', 500)).toEqual({ changed: false, expiresAt: 1020, round: 2 });
    expect(s.seats.a).toMatchObject({ state: 'rework', deadline: 1020 });
  });

  it('gives a new rework lease once the previous one lapsed', () => {
    const s = reworking();
    item.reserve(s, 'a', 20);
    expect(item.reserve(s, 'a', 1020)).toEqual({ changed: true, expiresAt: 2020, round: 2 });
  });

  describe('refusals', () => {
    it('refuses an annotator who already submitted', () => {
      const s = fresh();
      submitAll(s, ['a']);
      refuses(() => item.reserve(s, 'a', 5), 'CONFLICT', 'You already submitted this item.');
    });

    it('refuses a submitter with that message even while the item is in review', () => {
      const s = inReview();
      refuses(() => item.reserve(s, 'a', 5), 'CONFLICT', 'You already submitted this item.');
    });

    it('refuses a newcomer while the item is pending review', () => {
      const s = inReview();
      refuses(() => item.reserve(s, 'c', 5), 'CONFLICT', 'The item is in review: no seat is open.');
      expect(s.seats.c).toBeUndefined();
    });

    it('refuses an annotator who was not sent back while changes are requested', () => {
      const s = reworking([{ annotatorId: 'a', labelKey: null, comment: 'redo' }]);
      refuses(() => item.reserve(s, 'c', 20), 'CONFLICT', 'The item is in review: no seat is open.');
      refuses(() => item.reserve(s, 'b', 20), 'CONFLICT', 'You already submitted this item.');
    });

    it('refuses on an item skipped by everyone', () => {
      const s = withStatus('skipped');
      refuses(() => item.reserve(s, 'a', 0), 'CONFLICT', 'The item was skipped by every annotator; a manager must reset it.');
    });

    it('refuses an annotator who skipped the item, even with seats free', () => {
      const s = fresh();
      item.skip(s, 'a', 0);
      expect(item.openSeats(s, 0)).toBe(2);
      refuses(() => item.reserve(s, 'a', 1), 'CONFLICT', 'You skipped this item.');
      expect(s.seats.a).toBeUndefined();
    });

    it('refuses when every seat is occupied', () => {
      const s = fresh();
      item.reserve(s, 'a', 0);
      submitAll(s, ['b']);
      refuses(() => item.reserve(s, 'c', 2), 'CONFLICT', 'No seat is available on this item.');
      expect(s.seats.c).toBeUndefined();
    });

    it.each(['completed', 'cancelled'] as const)('refuses on a %s item, even the holder of a live lease', (status) => {
      const s = fresh();
      item.reserve(s, 'a', 0);
      s.status = status;
      refuses(() => item.reserve(s, 'a', 1), 'CONFLICT', `The item is ${status}.`);
      refuses(() => item.reserve(s, 'b', 1), 'CONFLICT', `The item is ${status}.`);
    });
  });
});

describe('heartbeat', () => {
  it('leaves the lease unchanged while at least half of it is left', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.heartbeat(s, 'a', 400)).toEqual({ changed: false, expiresAt: 1000, round: 1 });
    expect(item.heartbeat(s, 'a', 500)).toEqual({ changed: false, expiresAt: 1000, round: 1 });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1000 });
  });

  it('extends a lease to now + timeout only when less than half of it is left', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.heartbeat(s, 'a', 501)).toEqual({ changed: true, expiresAt: 1501, round: 1 });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1501 });
    // The extended lease coalesces again: unchanged until less than half of the new one is left.
    expect(item.heartbeat(s, 'a', 1001)).toEqual({ changed: false, expiresAt: 1501, round: 1 });
    expect(item.heartbeat(s, 'a', 1002)).toEqual({ changed: true, expiresAt: 2002, round: 1 });
  });

  it('extends a rework lease, keeping its state, round and comments', () => {
    const s = reworking([{ annotatorId: 'a', labelKey: null, comment: 'redo' }]);
    item.reserve(s, 'a', 20); // lease until 1020
    expect(item.heartbeat(s, 'a', 520)).toEqual({ changed: false, expiresAt: 1020, round: 2 });
    expect(item.heartbeat(s, 'a', 600)).toEqual({ changed: true, expiresAt: 1600, round: 2 });
    expect(s.seats.a).toEqual({ state: 'rework', annotatorId: 'a', round: 2, deadline: 1600, comments: [{ labelKey: null, comment: 'redo' }] });
  });

  describe('refuses without a live lease', () => {
    const NO_LEASE = 'You hold no live reservation on this item.';

    it('with no seat', () => {
      refuses(() => item.heartbeat(fresh(), 'a', 0), 'CONFLICT', NO_LEASE);
    });

    it('once the reservation lapsed, without reviving it', () => {
      const s = fresh();
      item.reserve(s, 'a', 0);
      refuses(() => item.heartbeat(s, 'a', 1000), 'CONFLICT', NO_LEASE);
      expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1000 });
    });

    it('on an assignment not yet taken up', () => {
      const s = fresh();
      item.pin(s, ['a'], 'add', 0);
      refuses(() => item.heartbeat(s, 'a', 1), 'CONFLICT', NO_LEASE);
    });

    it('after submitting', () => {
      const s = fresh();
      submitAll(s, ['a']);
      refuses(() => item.heartbeat(s, 'a', 2), 'CONFLICT', NO_LEASE);
    });

    it('on rework not yet reserved', () => {
      const s = reworking();
      refuses(() => item.heartbeat(s, 'a', 20), 'CONFLICT', NO_LEASE);
    });
  });

  it('refuses on a closed item', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    s.status = 'cancelled';
    refuses(() => item.heartbeat(s, 'a', 600), 'CONFLICT', 'The item is cancelled.');
    expect(s.seats.a).toMatchObject({ deadline: 1000 });
  });
});

describe('release', () => {
  it('frees the seat of a reservation', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.reserve(s, 'b', 0);
    item.release(s, 'a', 10);
    expect(s.seats).toEqual({ b: { state: 'reserved', annotatorId: 'b', round: 1, deadline: 1000 } });
    expect(item.openSeats(s, 10)).toBe(1);
    expect(s.skipped).toEqual([]);
  });

  it('lets the releaser reserve again', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.release(s, 'a', 10);
    expect(item.reserve(s, 'a', 20)).toEqual({ changed: true, expiresAt: 1020, round: 1 });
  });

  it('drops a rework lease but keeps the rework', () => {
    const s = reworking([{ annotatorId: 'a', labelKey: 'rating', comment: 'fix' }]);
    item.reserve(s, 'a', 20);
    item.release(s, 'a', 30);
    expect(s.seats.a).toEqual({ state: 'rework', annotatorId: 'a', round: 2, deadline: null, comments: [{ labelKey: 'rating', comment: 'fix' }] });
    expect(item.deriveStatus(s, 30)).toBe('changes_requested');
  });

  describe('refuses without a live lease', () => {
    const NO_LEASE = 'You hold no live reservation on this item.';

    it('with no seat', () => {
      refuses(() => item.release(fresh(), 'a', 0), 'CONFLICT', NO_LEASE);
    });

    it('once the reservation lapsed', () => {
      const s = fresh();
      item.reserve(s, 'a', 0);
      refuses(() => item.release(s, 'a', 1000), 'CONFLICT', NO_LEASE);
    });

    it('on a pinned assignment, which stays', () => {
      const s = fresh();
      item.pin(s, ['a'], 'add', 0);
      refuses(() => item.release(s, 'a', 1), 'CONFLICT', NO_LEASE);
      expect(s.seats.a).toEqual({ state: 'assigned', annotatorId: 'a', round: 1, deadline: null });
    });

    it('after submitting', () => {
      const s = fresh();
      submitAll(s, ['a']);
      refuses(() => item.release(s, 'a', 2), 'CONFLICT', NO_LEASE);
      expect(s.seats.a?.state).toBe('submitted');
    });

    it('on rework not yet reserved', () => {
      refuses(() => item.release(reworking(), 'a', 20), 'CONFLICT', NO_LEASE);
    });
  });

  it('refuses on a closed item', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    s.status = 'completed';
    refuses(() => item.release(s, 'a', 1), 'CONFLICT', 'The item is completed.');
    expect(s.seats.a).toBeDefined();
  });
});

describe('skip', () => {
  it('records an annotator without a seat as skipped, in order', () => {
    const s = fresh();
    item.skip(s, 'b', 0);
    item.skip(s, 'a', 0);
    expect(s.skipped).toEqual(['b', 'a']);
    expect(s.seats).toEqual({});
  });

  it("frees the skipper's reservation, even when every seat is taken", () => {
    const s = fresh({ annotationsRequired: 1 });
    item.reserve(s, 'a', 0);
    item.skip(s, 'a', 10);
    expect(s.seats).toEqual({});
    expect(s.skipped).toEqual(['a']);
    expect(item.openSeats(s, 10)).toBe(1);
  });

  it("frees the skipper's assignment", () => {
    const s = fresh();
    item.pin(s, ['a'], 'add', 0);
    item.skip(s, 'a', 1);
    expect(s.seats.a).toBeUndefined();
    expect(s.skipped).toEqual(['a']);
  });

  it('refuses an annotator who submitted', () => {
    const s = fresh();
    submitAll(s, ['a']);
    refuses(() => item.skip(s, 'a', 2), 'CONFLICT', 'You already submitted this item.');
    expect(s.skipped).toEqual([]);
  });

  it('refuses an annotator sent back to rework, with or without a lease', () => {
    const s = reworking();
    refuses(() => item.skip(s, 'a', 20), 'CONFLICT', 'A reviewer asked you to rework this item; it cannot be skipped.');
    item.reserve(s, 'b', 20);
    refuses(() => item.skip(s, 'b', 21), 'CONFLICT', 'A reviewer asked you to rework this item; it cannot be skipped.');
    expect(s.skipped).toEqual([]);
  });

  it('refuses a second skip', () => {
    const s = fresh();
    item.skip(s, 'a', 0);
    refuses(() => item.skip(s, 'a', 1), 'CONFLICT', 'You already skipped this item.');
    expect(s.skipped).toEqual(['a']);
  });

  it('refuses an annotator without a seat when no seat is open', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.reserve(s, 'b', 0);
    refuses(() => item.skip(s, 'c', 1), 'CONFLICT', 'No seat is available on this item.');
    expect(s.skipped).toEqual([]);
  });

  it('refuses on a closed item', () => {
    refuses(() => item.skip(withStatus('cancelled'), 'a', 0), 'CONFLICT', 'The item is cancelled.');
  });
});

describe('missingRequiredLabels', () => {
  it("lists the required labels not given, in the queue's order", () => {
    const labels: item.ItemLabel[] = [
      { labelId: 'L1', key: 'rating', required: true },
      { labelId: 'L2', key: 'notes', required: false },
      { labelId: 'L3', key: 'safety', required: true },
    ];
    const cfg = { ...config, labels };
    expect(item.missingRequiredLabels(cfg, ['L2'])).toEqual([labels[0], labels[2]]);
    expect(item.missingRequiredLabels(cfg, ['L3', 'L1'])).toEqual([]);
  });
});

describe('submit', () => {
  const labels: item.ItemLabel[] = [
    { labelId: 'L1', key: 'rating', required: true },
    { labelId: 'L2', key: 'safety', required: true },
    { labelId: 'L3', key: 'notes', required: false },
  ];

  it('turns a live reservation into a submission for its round', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.submit(s, 'a', ['L1'], 700)).toEqual({ round: 1 });
    expect(s.seats.a).toEqual({ state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 700 });
  });

  it('accepts a submission without optional labels, and with them', () => {
    const s = fresh({ labels });
    item.reserve(s, 'a', 0);
    item.reserve(s, 'b', 0);
    expect(item.submit(s, 'a', ['L2', 'L1'], 1)).toEqual({ round: 1 });
    expect(item.submit(s, 'b', ['L1', 'L2', 'L3'], 1)).toEqual({ round: 1 });
  });

  it('carries the round of a rework lease', () => {
    const s = reworking([{ annotatorId: 'a', labelKey: null, comment: 'redo' }]);
    item.reserve(s, 'a', 20);
    expect(item.submit(s, 'a', ['L1'], 30)).toEqual({ round: 2 });
    expect(s.seats.a).toEqual({ state: 'submitted', annotatorId: 'a', round: 2, submittedAt: 30 });
    expect(s.seats.b).toEqual({ state: 'submitted', annotatorId: 'b', round: 1, submittedAt: 1 });
  });

  describe('needs a live lease', () => {
    const NO_LEASE = 'Your reservation has expired or you hold none: reserve the item again before submitting.';

    it('refuses without a seat', () => {
      refuses(() => item.submit(fresh(), 'a', ['L1'], 0), 'CONFLICT', NO_LEASE);
    });

    it('refuses at the deadline of the reservation', () => {
      const s = fresh();
      item.reserve(s, 'a', 0);
      expect(item.submit(structuredClone(s), 'a', ['L1'], 999)).toEqual({ round: 1 });
      refuses(() => item.submit(s, 'a', ['L1'], 1000), 'CONFLICT', NO_LEASE);
      expect(s.seats.a?.state).toBe('reserved');
    });

    it('refuses an assignment not taken up', () => {
      const s = fresh();
      item.pin(s, ['a'], 'add', 0);
      refuses(() => item.submit(s, 'a', ['L1'], 1), 'CONFLICT', NO_LEASE);
    });

    it('refuses rework not reserved', () => {
      refuses(() => item.submit(reworking(), 'a', ['L1'], 20), 'CONFLICT', NO_LEASE);
    });
  });

  it('refuses a second submission', () => {
    const s = fresh();
    submitAll(s, ['a']);
    refuses(() => item.submit(s, 'a', ['L1'], 5), 'CONFLICT', 'You already submitted this item.');
    expect(s.seats.a).toEqual({ state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 1 });
  });

  it("refuses labels that are not the item's, naming them", () => {
    const s = fresh({ labels });
    item.reserve(s, 'a', 0);
    refuses(
      () => item.submit(s, 'a', ['L1', 'X', 'L2', 'Y'], 1),
      'VALIDATION',
      'These labels are not part of this item (it keeps the labels its queue had when it was added): X, Y.',
    );
    expect(s.seats.a?.state).toBe('reserved');
  });

  it('refuses a label given twice', () => {
    const s = fresh({ labels });
    item.reserve(s, 'a', 0);
    refuses(() => item.submit(s, 'a', ['L1', 'L2', 'L1'], 1), 'VALIDATION', 'Each label may appear once in a submission.');
    expect(s.seats.a?.state).toBe('reserved');
  });

  it('refuses missing required labels, naming them by key in message and details', () => {
    const s = fresh({ labels });
    item.reserve(s, 'a', 0);
    const error = refuses(() => item.submit(s, 'a', ['L3'], 1), 'VALIDATION', 'Missing required labels: rating, safety.');
    expect(error.details).toEqual({ missing: ['rating', 'safety'] });
    const one = refuses(() => item.submit(s, 'a', ['L2'], 1), 'VALIDATION', 'Missing required labels: rating.');
    expect(one.details).toEqual({ missing: ['rating'] });
    expect(s.seats.a?.state).toBe('reserved');
  });

  it('refuses on a closed item', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    s.status = 'cancelled';
    refuses(() => item.submit(s, 'a', ['L1'], 1), 'CONFLICT', 'The item is cancelled.');
  });
});

describe('review', () => {
  it("approves with the reviewer's overrides, leaving the seats as they are", () => {
    const s = inReview();
    const seats = structuredClone(s.seats);
    item.review(s, 'rev', 'approve', 'fine', [], [{ labelId: 'L1', value: 4 }], 50);
    expect(s.review).toEqual({ state: 'approved', reviewerId: 'rev', comment: 'fine', at: 50, overrides: [{ labelId: 'L1', value: 4 }] });
    expect(s.seats).toEqual(seats);
    expect(item.readyToFinalize(s)).toBe(true);
  });

  it('approves without overrides or comment', () => {
    const s = inReview();
    item.review(s, 'rev', 'approve', null, [], [], 50);
    expect(s.review).toEqual({ state: 'approved', reviewerId: 'rev', comment: null, at: 50, overrides: [] });
  });

  it("refuses overrides of labels that are not the item's, naming them", () => {
    const s = inReview();
    refuses(
      () =>
        item.review(
          s,
          'rev',
          'approve',
          null,
          [],
          [
            { labelId: 'L1', value: 1 },
            { labelId: 'X', value: 'a' },
            { labelId: 'Y', value: true },
          ],
          50,
        ),
      'VALIDATION',
      'overrides: X, Y not a label of this item.',
    );
    expect(s.review).toEqual({ state: 'none' });
  });

  it('sends the targeted annotators back to rework a new round with their comments', () => {
    const s = inReview();
    item.review(
      s,
      'rev',
      'request_changes',
      'two things',
      [
        { annotatorId: 'a', labelKey: 'rating', comment: 'too high' },
        { annotatorId: 'a', labelKey: null, comment: 'see guidelines' },
      ],
      [],
      50,
    );
    expect(s.seats.a).toEqual({
      state: 'rework',
      annotatorId: 'a',
      round: 2,
      deadline: null,
      comments: [
        { labelKey: 'rating', comment: 'too high' },
        { labelKey: null, comment: 'see guidelines' },
      ],
    });
    expect(s.seats.b).toEqual({ state: 'submitted', annotatorId: 'b', round: 1, submittedAt: 1 });
    expect(s.review).toEqual({ state: 'changes_requested', reviewerId: 'rev', comment: 'two things', at: 50 });
    expect(item.deriveStatus(s, 50)).toBe('changes_requested');
  });

  it("keeps each target's own comments when several annotators are targeted", () => {
    const s = inReview();
    item.review(
      s,
      'rev',
      'request_changes',
      null,
      [
        { annotatorId: 'b', labelKey: null, comment: 'for b' },
        { annotatorId: 'a', labelKey: 'rating', comment: 'for a' },
      ],
      [],
      50,
    );
    expect(s.seats.a).toMatchObject({ state: 'rework', round: 2, comments: [{ labelKey: 'rating', comment: 'for a' }] });
    expect(s.seats.b).toMatchObject({ state: 'rework', round: 2, comments: [{ labelKey: null, comment: 'for b' }] });
    expect(s.review).toEqual({ state: 'changes_requested', reviewerId: 'rev', comment: null, at: 50 });
  });

  it('sends every annotator back, without comments, when no target is named', () => {
    const s = inReview();
    item.review(s, 'rev', 'request_changes', 'all again', [], [], 50);
    expect(s.seats).toEqual({
      a: { state: 'rework', annotatorId: 'a', round: 2, deadline: null, comments: [] },
      b: { state: 'rework', annotatorId: 'b', round: 2, deadline: null, comments: [] },
    });
  });

  it('counts rounds on: a second request for changes asks for round 3', () => {
    const s = reworking([{ annotatorId: 'a', labelKey: null, comment: 'redo' }]);
    item.reserve(s, 'a', 20);
    item.submit(s, 'a', ['L1'], 30);
    s.status = item.deriveStatus(s, 30);
    expect(s.status).toBe('pending_review');
    item.review(s, 'rev2', 'request_changes', null, [], [], 40);
    expect(s.seats.a).toMatchObject({ state: 'rework', round: 3 });
    expect(s.seats.b).toMatchObject({ state: 'rework', round: 2 });
    expect(s.review).toEqual({ state: 'changes_requested', reviewerId: 'rev2', comment: null, at: 40 });
  });

  it('allows an approval after the reworked round is resubmitted', () => {
    const s = reworking([{ annotatorId: 'a', labelKey: null, comment: 'redo' }]);
    item.reserve(s, 'a', 20);
    item.submit(s, 'a', ['L1'], 30);
    s.status = item.deriveStatus(s, 30);
    item.review(s, 'rev', 'approve', null, [], [], 40);
    expect(s.review.state).toBe('approved');
  });

  it('refuses a target who did not annotate the item, changing nothing', () => {
    const s = inReview();
    const before = structuredClone(s);
    refuses(
      () =>
        item.review(
          s,
          'rev',
          'request_changes',
          null,
          [
            { annotatorId: 'a', labelKey: null, comment: 'x' },
            { annotatorId: 'z', labelKey: null, comment: 'y' },
            { annotatorId: 'c', labelKey: null, comment: 'y' },
            { annotatorId: 'z', labelKey: 'rating', comment: 'again' },
          ],
          [],
          50,
        ),
      'VALIDATION',
      'targets: z, c did not annotate this item.',
    );
    expect(s).toEqual(before);
  });

  it('forbids a reviewer who annotated the item, with 403 FORBIDDEN', () => {
    const s = inReview();
    refuses(() => item.review(s, 'b', 'request_changes', null, [], [], 50), 'FORBIDDEN', 'You cannot review your own annotation.');
    expect(s.review).toEqual({ state: 'none' });
  });

  it.each(['pending', 'in_progress', 'changes_requested', 'skipped'] as const)('refuses while the item is %s, not awaiting review', (status) => {
    const s = withStatus(status);
    refuses(() => item.review(s, 'rev', 'approve', null, [], [], 50), 'CONFLICT', `The item is ${status}, not awaiting review.`);
    expect(s.review).toEqual({ state: 'none' });
  });

  it.each(['completed', 'cancelled'] as const)('refuses on a %s item', (status) => {
    const s = inReview();
    s.status = status;
    refuses(() => item.review(s, 'rev', 'approve', null, [], [], 50), 'CONFLICT', `The item is ${status}.`);
  });

  it('refuses a second review once approved, with that message', () => {
    const s = inReview();
    item.review(s, 'rev', 'approve', null, [], [], 50);
    refuses(() => item.review(s, 'rev2', 'approve', null, [], [], 51), 'CONFLICT', 'The item is already approved.');
  });
});

describe('pin', () => {
  it('adds pinned assignments without a deadline', () => {
    const s = fresh();
    expect(item.pin(s, ['a', 'b'], 'add', 0)).toEqual({ added: ['a', 'b'], removed: [] });
    expect(s.seats).toEqual({
      a: { state: 'assigned', annotatorId: 'a', round: 1, deadline: null },
      b: { state: 'assigned', annotatorId: 'b', round: 1, deadline: null },
    });
  });

  it('leaves a seated annotator as they are and does not report them as added', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.pin(s, ['a', 'b'], 'add', 1)).toEqual({ added: ['b'], removed: [] });
    expect(s.seats.a).toEqual({ state: 'reserved', annotatorId: 'a', round: 1, deadline: 1000 });
  });

  it('counts pins against the seats', () => {
    const s = fresh();
    item.pin(s, ['a', 'b'], 'add', 0);
    refuses(() => item.reserve(s, 'c', 1), 'CONFLICT', 'No seat is available on this item.');
  });

  it('refuses a pin when no seat is free, naming the item and the person', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.pin(s, ['b'], 'add', 0);
    refuses(() => item.pin(s, ['c'], 'add', 1), 'CONFLICT', 'No seat is available on item i for c.');
    expect(s.seats.c).toBeUndefined();
  });

  it('refuses a pin while the item is in review', () => {
    refuses(() => item.pin(inReview(), ['c'], 'add', 5), 'CONFLICT', 'No seat is available on item i for c.');
  });

  it('removes only pinned assignments, reporting what it removed', () => {
    const s = fresh({ annotationsRequired: 3 });
    item.pin(s, ['a', 'b'], 'add', 0);
    item.reserve(s, 'c', 0);
    expect(item.pin(s, ['a', 'c', 'z'], 'remove', 1)).toEqual({ added: [], removed: ['a'] });
    expect(Object.keys(s.seats).sort()).toEqual(['b', 'c']);
    expect(s.seats.c?.state).toBe('reserved');
  });

  it('sets exactly the given pins: removes the others, adds the new ones', () => {
    const s = fresh();
    item.pin(s, ['a', 'b'], 'add', 0);
    expect(item.pin(s, ['b', 'c'], 'set', 1)).toEqual({ added: ['c'], removed: ['a'] });
    expect(s.seats).toEqual({
      b: { state: 'assigned', annotatorId: 'b', round: 1, deadline: null },
      c: { state: 'assigned', annotatorId: 'c', round: 1, deadline: null },
    });
  });

  it('does not unseat a reservation when setting pins', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    item.pin(s, ['b'], 'add', 0);
    expect(item.pin(s, ['c'], 'set', 1)).toEqual({ added: ['c'], removed: ['b'] });
    expect(s.seats.a?.state).toBe('reserved');
    expect(s.seats.c?.state).toBe('assigned');
  });

  it("clears everyone's pins when set to nobody", () => {
    const s = fresh();
    item.pin(s, ['a', 'b'], 'add', 0);
    expect(item.pin(s, [], 'set', 1)).toEqual({ added: [], removed: ['a', 'b'] });
    expect(s.seats).toEqual({});
  });

  it('can hand a skipped item to someone, though it opens no seat to annotators', () => {
    const s = fresh({ annotationsRequired: 2 });
    s.skipped = ['a', 'b', 'c'];
    s.status = 'skipped';
    expect(item.openSeats(s, 0)).toBe(0);
    expect(item.pin(s, ['a', 'b'], 'add', 1)).toEqual({ added: ['a', 'b'], removed: [] });
    refuses(() => item.pin(s, ['c'], 'add', 1), 'CONFLICT', 'No seat is available on item i for c.');
  });

  it('clears a previous skip of the pinned person only', () => {
    const s = fresh();
    item.skip(s, 'a', 0);
    item.skip(s, 'b', 0);
    item.pin(s, ['a'], 'add', 1);
    expect(s.skipped).toEqual(['b']);
    expect(item.reserve(s, 'a', 2)).toEqual({ changed: true, expiresAt: 1002, round: 1 });
  });

  it('refuses on a closed item', () => {
    refuses(() => item.pin(withStatus('completed'), ['a'], 'add', 0), 'CONFLICT', 'The item is completed.');
  });
});

describe('assignTurn', () => {
  it('assigns an open seat that must be started within the timeout', () => {
    const s = fresh();
    expect(item.assignTurn(s, 'a', 100)).toBe(true);
    expect(s.seats.a).toEqual({ state: 'assigned', annotatorId: 'a', round: 1, deadline: 1100 });
  });

  it('does nothing for someone who already has a seat', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.assignTurn(s, 'a', 10)).toBe(false);
    expect(s.seats.a?.state).toBe('reserved');
  });

  it('does nothing when no seat is open', () => {
    const s = fresh();
    item.assignTurn(s, 'a', 0);
    item.assignTurn(s, 'b', 0);
    expect(item.assignTurn(s, 'c', 0)).toBe(false);
    expect(s.seats.c).toBeUndefined();
  });

  it.each(['pending_review', 'changes_requested', 'skipped', 'completed', 'cancelled'] as const)('does nothing while the item is %s', (status) => {
    const s = withStatus(status);
    expect(item.assignTurn(s, 'a', 0)).toBe(false);
    expect(s.seats).toEqual({});
  });
});

describe('expireLapsed', () => {
  const iso = (ms: number) => new Date(ms).toISOString();

  it('frees a reservation at its deadline and records it as expired', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    expect(item.expireLapsed(s, 1000)).toEqual([{ event: 'expired', actorId: 'a', details: { deadline: '1970-01-01T00:00:01.000Z' }, at: 1000 }]);
    expect(s.seats).toEqual({});
    expect(s.lapsed).toEqual([]);
    expect(s.skipped).toEqual([]);
  });

  it('frees a lapsed rotation assignment and passes the annotator over from then on', () => {
    const s = fresh();
    item.assignTurn(s, 'a', 0);
    expect(item.expireLapsed(s, 1500)).toEqual([{ event: 'assignment_expired', actorId: 'a', details: { deadline: iso(1000) }, at: 1500 }]);
    expect(s.seats).toEqual({});
    expect(s.lapsed).toEqual(['a']);
  });

  it('lists a twice-lapsed annotator once', () => {
    const s = fresh();
    item.assignTurn(s, 'a', 0);
    item.expireLapsed(s, 1000);
    item.assignTurn(s, 'a', 1000);
    item.expireLapsed(s, 2000);
    expect(s.lapsed).toEqual(['a']);
  });

  it('drops a lapsed rework lease but keeps the rework', () => {
    const s = reworking([{ annotatorId: 'a', labelKey: null, comment: 'redo' }]);
    item.reserve(s, 'a', 20);
    expect(item.expireLapsed(s, 1020)).toEqual([{ event: 'expired', actorId: 'a', details: { rework: true, deadline: iso(1020) }, at: 1020 }]);
    expect(s.seats.a).toEqual({ state: 'rework', annotatorId: 'a', round: 2, deadline: null, comments: [{ labelKey: null, comment: 'redo' }] });
  });

  it('changes nothing before the deadlines', () => {
    const s = fresh({ annotationsRequired: 3 });
    item.reserve(s, 'a', 0);
    item.assignTurn(s, 'b', 0);
    const before = structuredClone(s);
    expect(item.expireLapsed(s, 999)).toEqual([]);
    expect(s).toEqual(before);
  });

  it('never expires pins, submissions or rework without a lease', () => {
    const s = fresh({ annotationsRequired: 10 });
    s.seats = {
      p: { state: 'assigned', annotatorId: 'p', round: 1, deadline: null },
      s: { state: 'submitted', annotatorId: 's', round: 1, submittedAt: 0 },
      w: { state: 'rework', annotatorId: 'w', round: 2, deadline: null, comments: [] },
    };
    const before = structuredClone(s);
    expect(item.expireLapsed(s, 1e12)).toEqual([]);
    expect(s).toEqual(before);
  });

  it('expires everything lapsed at once, one event each', () => {
    const s = fresh({ annotationsRequired: 3 });
    item.reserve(s, 'a', 0);
    item.assignTurn(s, 'b', 100);
    item.reserve(s, 'c', 5000);
    const events = item.expireLapsed(s, 1100);
    expect(events.map((e) => [e.event, e.actorId])).toEqual([
      ['expired', 'a'],
      ['assignment_expired', 'b'],
    ]);
    expect(Object.keys(s.seats)).toEqual(['c']);
  });
});

describe('nextDeadline', () => {
  it('is null with no seats', () => {
    expect(item.nextDeadline(fresh())).toBeNull();
  });

  it('is null when nothing can lapse: pins, submissions, rework without a lease', () => {
    const s = fresh();
    s.seats = {
      p: { state: 'assigned', annotatorId: 'p', round: 1, deadline: null },
      s: { state: 'submitted', annotatorId: 's', round: 1, submittedAt: 5 },
      w: { state: 'rework', annotatorId: 'w', round: 2, deadline: null, comments: [] },
    };
    expect(item.nextDeadline(s)).toBeNull();
  });

  it('is the earliest deadline of reservations, rotation assignments and rework leases', () => {
    const s = fresh();
    s.seats = {
      r: { state: 'reserved', annotatorId: 'r', round: 1, deadline: 300 },
      t: { state: 'assigned', annotatorId: 't', round: 1, deadline: 200 },
      w: { state: 'rework', annotatorId: 'w', round: 2, deadline: 250, comments: [] },
      s: { state: 'submitted', annotatorId: 's', round: 1, submittedAt: 5 },
    };
    expect(item.nextDeadline(s)).toBe(200);
    delete s.seats.t;
    expect(item.nextDeadline(s)).toBe(250);
    delete s.seats.w;
    expect(item.nextDeadline(s)).toBe(300);
  });
});

describe('removeMember', () => {
  it.each<[string, item.Seat]>([
    ['reservation', { state: 'reserved', annotatorId: 'a', round: 1, deadline: 1000 }],
    ['assignment', { state: 'assigned', annotatorId: 'a', round: 1, deadline: null }],
    ['rework', { state: 'rework', annotatorId: 'a', round: 2, deadline: 1000, comments: [] }],
  ])('frees the %s of a member who left and never offers them the item again', (_name, seat) => {
    const s = fresh();
    s.seats.a = seat;
    expect(item.removeMember(s, 'a')).toBe(true);
    expect(s.seats).toEqual({});
    expect(s.skipped).toEqual(['a']);
    expect(s.eligibleAnnotators).toEqual(['b', 'c']);
  });

  it('keeps the submitted work of a member who left', () => {
    const s = fresh();
    submitAll(s, ['a']);
    expect(item.removeMember(s, 'a')).toBe(false);
    expect(s.seats.a).toEqual({ state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 1 });
    expect(s.eligibleAnnotators).toEqual(['b', 'c']);
    expect(s.skipped).toEqual([]);
  });

  it('only drops a member without a seat from the eligible annotators', () => {
    const s = fresh();
    expect(item.removeMember(s, 'b')).toBe(false);
    expect(s.eligibleAnnotators).toEqual(['a', 'c']);
    expect(s.seats).toEqual({});
  });

  it('does not list a member twice as skipped', () => {
    const s = fresh();
    s.skipped = ['a'];
    s.seats.a = { state: 'assigned', annotatorId: 'a', round: 1, deadline: null };
    expect(item.removeMember(s, 'a')).toBe(true);
    expect(s.skipped).toEqual(['a']);
  });
});

describe('cancel', () => {
  it.each(['pending', 'in_progress', 'pending_review', 'changes_requested', 'skipped'] as const)('cancels a %s item', (status) => {
    const s = withStatus(status);
    expect(item.cancel(s)).toBe(true);
    expect(s.status).toBe('cancelled');
  });

  it('returns false when the item was already cancelled', () => {
    const s = fresh();
    item.cancel(s);
    expect(item.cancel(s)).toBe(false);
    expect(s.status).toBe('cancelled');
  });

  it('refuses to cancel a completed item', () => {
    const s = withStatus('completed');
    refuses(() => item.cancel(s), 'CONFLICT', 'The item is completed; it cannot be cancelled.');
    expect(s.status).toBe('completed');
  });
});

describe('resetSkipped', () => {
  it('forgets the skips and lapses of a skipped item, which then derives pending', () => {
    const s = fresh({ annotationsRequired: 1 });
    for (const a of ['a', 'b', 'c']) item.skip(s, a, 0);
    s.lapsed = ['b'];
    s.status = item.deriveStatus(s, 0);
    expect(s.status).toBe('skipped');
    item.resetSkipped(s);
    expect(s.skipped).toEqual([]);
    expect(s.lapsed).toEqual([]);
    expect(s.status).toBe('skipped'); // the workflow derives the new status
    expect(item.deriveStatus(s, 1)).toBe('pending');
  });

  it.each(['pending', 'in_progress', 'pending_review', 'changes_requested', 'completed', 'cancelled'] as const)('refuses to reset a %s item', (status) => {
    const s = withStatus(status);
    s.skipped = ['a'];
    refuses(() => item.resetSkipped(s), 'CONFLICT', `Only a skipped item can be reset; this one is ${status}.`);
    expect(s.skipped).toEqual(['a']);
  });
});

describe('allSubmitted', () => {
  it('is false until annotationsRequired seats are submitted', () => {
    const s = fresh();
    expect(item.allSubmitted(s)).toBe(false);
    submitAll(s, ['a']);
    item.reserve(s, 'b', 2);
    expect(item.allSubmitted(s)).toBe(false);
    item.submit(s, 'b', ['L1'], 3);
    expect(item.allSubmitted(s)).toBe(true);
  });

  it('is false while any rework is outstanding, even with enough submissions', () => {
    const s = fresh({ annotationsRequired: 1 });
    s.seats = {
      a: { state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 0 },
      b: { state: 'rework', annotatorId: 'b', round: 2, deadline: null, comments: [] },
    };
    expect(item.allSubmitted(s)).toBe(false);
    s.seats.b = { state: 'submitted', annotatorId: 'b', round: 2, submittedAt: 5 };
    expect(item.allSubmitted(s)).toBe(true);
  });
});

describe('readyToFinalize', () => {
  it('is true once a reviewer approved', () => {
    const s = inReview();
    expect(item.readyToFinalize(s)).toBe(false);
    item.review(s, 'rev', 'approve', null, [], [], 5);
    expect(item.readyToFinalize(s)).toBe(true);
  });

  it('is true when every seat is submitted and no review is needed', () => {
    const s = fresh({ requiresReview: false });
    submitAll(s, ['a']);
    expect(item.readyToFinalize(s)).toBe(false);
    submitAll(s, ['b']);
    expect(item.readyToFinalize(s)).toBe(true);
  });

  it('waits for the review when review is on', () => {
    const s = fresh();
    submitAll(s, ['a', 'b']);
    expect(item.allSubmitted(s)).toBe(true);
    expect(item.readyToFinalize(s)).toBe(false);
  });

  it.each(['completed', 'cancelled'] as const)('is false once the item is %s', (status) => {
    const approved = inReview();
    item.review(approved, 'rev', 'approve', null, [], [], 5);
    approved.status = status;
    expect(item.readyToFinalize(approved)).toBe(false);
    const done = fresh({ requiresReview: false });
    submitAll(done, ['a', 'b']);
    done.status = status;
    expect(item.readyToFinalize(done)).toBe(false);
  });
});

describe('assignees', () => {
  it('lists everyone on the item but the submitters, sorted', () => {
    const s = fresh({ annotationsRequired: 10 });
    s.seats = {
      z: { state: 'reserved', annotatorId: 'z', round: 1, deadline: 1000 },
      s: { state: 'submitted', annotatorId: 's', round: 1, submittedAt: 0 },
      m: { state: 'assigned', annotatorId: 'm', round: 1, deadline: null },
      b: { state: 'rework', annotatorId: 'b', round: 2, deadline: null, comments: [] },
    };
    expect(item.assignees(s)).toEqual(['b', 'm', 'z']);
  });

  it('is empty with no seats', () => {
    expect(item.assignees(fresh())).toEqual([]);
  });
});

describe('readModelOf', () => {
  it('reports the live seats, sorted by kind, with ISO expiry times', () => {
    const s = fresh({ annotationsRequired: 10 });
    s.version = 7;
    s.status = 'in_progress';
    s.skipped = ['y', 'x'];
    s.seats = {
      r: { state: 'reserved', annotatorId: 'r', round: 1, deadline: 2000 },
      s2: { state: 'submitted', annotatorId: 's2', round: 1, submittedAt: 10 },
      s1: { state: 'submitted', annotatorId: 's1', round: 1, submittedAt: 10 },
      p: { state: 'assigned', annotatorId: 'p', round: 1, deadline: null },
      t: { state: 'assigned', annotatorId: 't', round: 1, deadline: 3000 },
      wl: { state: 'rework', annotatorId: 'wl', round: 2, deadline: 4000, comments: [] },
      w: { state: 'rework', annotatorId: 'w', round: 3, deadline: null, comments: [{ labelKey: null, comment: 'c' }] },
    };
    expect(item.readModelOf(s, 1000)).toEqual({
      itemId: 'i',
      version: 7,
      status: 'in_progress',
      seatsOccupied: 7,
      submittedCount: 2,
      reservedBy: ['r', 'wl'],
      assignedTo: ['p', 't'],
      submittedBy: ['s1', 's2'],
      reworkFor: ['w', 'wl'],
      skippedBy: ['x', 'y'],
      seats: [
        { annotatorId: 'r', state: 'reserved', round: 1, expiresAt: '1970-01-01T00:00:02.000Z' },
        { annotatorId: 's2', state: 'submitted', round: 1, expiresAt: null },
        { annotatorId: 's1', state: 'submitted', round: 1, expiresAt: null },
        { annotatorId: 'p', state: 'assigned', round: 1, expiresAt: null },
        { annotatorId: 't', state: 'assigned', round: 1, expiresAt: '1970-01-01T00:00:03.000Z' },
        { annotatorId: 'wl', state: 'rework', round: 2, expiresAt: '1970-01-01T00:00:04.000Z' },
        { annotatorId: 'w', state: 'rework', round: 3, expiresAt: null },
      ],
      review: { state: 'none' },
    });
    expect(s.skipped).toEqual(['y', 'x']);
  });

  it('leaves lapsed reservations and assignments out', () => {
    const s = fresh();
    s.seats = {
      r: { state: 'reserved', annotatorId: 'r', round: 1, deadline: 1000 },
      t: { state: 'assigned', annotatorId: 't', round: 1, deadline: 500 },
      a: { state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 10 },
    };
    const m = item.readModelOf(s, 1000);
    expect(m.seatsOccupied).toBe(1);
    expect(m.reservedBy).toEqual([]);
    expect(m.assignedTo).toEqual([]);
    expect(m.seats).toEqual([{ annotatorId: 'a', state: 'submitted', round: 1, expiresAt: null }]);
  });

  it('caps seatsOccupied at annotationsRequired', () => {
    const s = fresh({ annotationsRequired: 2 });
    s.seats = {
      a: { state: 'submitted', annotatorId: 'a', round: 1, submittedAt: 0 },
      b: { state: 'submitted', annotatorId: 'b', round: 1, submittedAt: 0 },
      c: { state: 'reserved', annotatorId: 'c', round: 1, deadline: 1000 },
    };
    const m = item.readModelOf(s, 0);
    expect(m.seatsOccupied).toBe(2);
    expect(m.submittedCount).toBe(2);
    expect(m.seats).toHaveLength(3);
  });

  it('carries the review as it is', () => {
    const s = inReview();
    item.review(s, 'rev', 'approve', 'ok', [], [{ labelId: 'L1', value: 2 }], 9);
    expect(item.readModelOf(s, 10).review).toEqual({ state: 'approved', reviewerId: 'rev', comment: 'ok', at: 9, overrides: [{ labelId: 'L1', value: 2 }] });
  });

  // Bug (reported, not fixed): a rework lease whose deadline passed but that expireLapsed has not
  // cleared yet still shows in reservedBy and with a past expiresAt; a lapsed reservation does not.
  it.todo('leaves a lapsed rework lease out of reservedBy');
});

describe('deriveStatus', () => {
  type Case = [name: string, build: () => { s: item.ItemState; now: number }, expected: item.ItemStatus];
  const at = (now: number, s: item.ItemState) => ({ s, now });

  it.each<Case>([
    ['pending: a fresh item', () => at(0, fresh()), 'pending'],
    [
      'pending: only pinned assignments, none started',
      () => {
        const s = fresh();
        item.pin(s, ['a'], 'add', 0);
        return at(1, s);
      },
      'pending',
    ],
    [
      'pending: the only reservation lapsed',
      () => {
        const s = fresh();
        item.reserve(s, 'a', 0);
        return at(1000, s);
      },
      'pending',
    ],
    [
      'in_progress: a live reservation',
      () => {
        const s = fresh();
        item.reserve(s, 'a', 0);
        return at(999, s);
      },
      'in_progress',
    ],
    [
      'in_progress: a submission, a seat still open',
      () => {
        const s = fresh();
        submitAll(s, ['a']);
        return at(2, s);
      },
      'in_progress',
    ],
    [
      'pending_review: every seat submitted, review on',
      () => {
        const s = fresh();
        submitAll(s, ['a', 'b']);
        return at(2, s);
      },
      'pending_review',
    ],
    [
      'in_progress: every seat submitted without review (the workflow completes it)',
      () => {
        const s = fresh({ requiresReview: false });
        submitAll(s, ['a', 'b']);
        return at(2, s);
      },
      'in_progress',
    ],
    ['changes_requested: rework outstanding, not started', () => at(20, reworking([{ annotatorId: 'a', labelKey: null, comment: 'x' }])), 'changes_requested'],
    [
      'changes_requested: rework being worked on',
      () => {
        const s = reworking();
        item.reserve(s, 'a', 20);
        return at(30, s);
      },
      'changes_requested',
    ],
    [
      'changes_requested: one reworker resubmitted, another has not',
      () => {
        const s = reworking();
        item.reserve(s, 'a', 20);
        item.submit(s, 'a', ['L1'], 30);
        return at(30, s);
      },
      'changes_requested',
    ],
    [
      'pending_review: every reworker resubmitted',
      () => {
        const s = reworking([{ annotatorId: 'a', labelKey: null, comment: 'x' }]);
        item.reserve(s, 'a', 20);
        item.submit(s, 'a', ['L1'], 30);
        return at(30, s);
      },
      'pending_review',
    ],
    [
      'skipped: every eligible annotator skipped',
      () => {
        const s = fresh();
        for (const a of ['a', 'b', 'c']) item.skip(s, a, 0);
        return at(1, s);
      },
      'skipped',
    ],
    [
      'skipped: the others skipped and the last one left, freeing their seat',
      () => {
        const s = fresh();
        item.skip(s, 'a', 0);
        item.skip(s, 'b', 0);
        item.reserve(s, 'c', 0);
        item.removeMember(s, 'c');
        return at(1, s);
      },
      'skipped',
    ],
    [
      'skipped: one skipped, the others left the queue without a seat',
      () => {
        const s = fresh();
        item.skip(s, 'a', 0);
        item.removeMember(s, 'b');
        item.removeMember(s, 'c');
        return at(1, s);
      },
      'skipped',
    ],
    [
      'not skipped: someone eligible has not skipped',
      () => {
        const s = fresh();
        item.skip(s, 'a', 0);
        item.skip(s, 'b', 0);
        return at(1, s);
      },
      'pending',
    ],
    [
      'not skipped: the last eligible annotator holds a live reservation',
      () => {
        const s = fresh();
        item.skip(s, 'a', 0);
        item.skip(s, 'b', 0);
        item.reserve(s, 'c', 0);
        return at(1, s);
      },
      'in_progress',
    ],
    [
      'not skipped: the last eligible annotator holds a pin',
      () => {
        const s = fresh();
        item.skip(s, 'a', 0);
        item.skip(s, 'b', 0);
        item.pin(s, ['c'], 'add', 0);
        return at(1, s);
      },
      'pending',
    ],
    [
      'not skipped: nobody skipped and nobody is eligible',
      () => {
        const s = fresh();
        s.eligibleAnnotators = [];
        return at(0, s);
      },
      'pending',
    ],
    [
      'completed is kept, whatever the seats say',
      () => {
        const s = fresh();
        item.reserve(s, 'a', 0);
        s.status = 'completed';
        return at(1, s);
      },
      'completed',
    ],
    [
      'cancelled is kept, whatever the seats say',
      () => {
        const s = fresh();
        submitAll(s, ['a', 'b']);
        s.status = 'cancelled';
        return at(2, s);
      },
      'cancelled',
    ],
  ])('%s', (_name, build, expected) => {
    const { s, now } = build();
    expect(item.deriveStatus(s, now)).toBe(expected);
  });

  it('does not change the state', () => {
    const s = fresh();
    item.reserve(s, 'a', 0);
    const before = structuredClone(s);
    item.deriveStatus(s, 5000);
    expect(s).toEqual(before);
  });

  // Bug (reported, not fixed): a lapsed seat that expireLapsed has not cleared yet counts its holder
  // as having left, so two skips plus c's lapsed reservation derive 'skipped' though c may reserve again.
  it.todo('does not derive skipped while an eligible annotator holds only a lapsed seat');
});
