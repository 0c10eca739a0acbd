import type { LabelType, LabelValue } from './labels.js';

/**
 * The resolved value of one label on a finalized item, from the current round of each annotator:
 * majority (ties broken deterministically: the smallest value in a stable order) for categorical,
 * thumbs and star; mean for numeric, with the median kept beside it; a reviewer override wins.
 */
export interface Resolution {
  value: LabelValue | null;
  method: 'majority' | 'mean' | 'reviewer_override' | 'single' | 'none';
  provenance: Record<string, unknown>;
}

export interface Vote {
  annotatorId: string;
  value: LabelValue;
}

const keyOf = (value: LabelValue) => JSON.stringify(Array.isArray(value) ? [...value].sort() : value);

function majority(votes: Vote[]): Resolution {
  const counts = new Map<string, { value: LabelValue; count: number }>();
  for (const vote of votes) {
    const key = keyOf(vote.value);
    const entry = counts.get(key) ?? { value: vote.value, count: 0 };
    entry.count++;
    counts.set(key, entry);
  }
  const ranked = [...counts.entries()].sort(([ka, a], [kb, b]) => b.count - a.count || (ka < kb ? -1 : ka > kb ? 1 : 0));
  const [winnerKey, winner] = ranked[0]!;
  const tied = ranked.filter(([, e]) => e.count === winner.count).length > 1;
  return {
    value: winner.value,
    method: 'majority',
    provenance: {
      votes: Object.fromEntries(ranked.map(([k, e]) => [k, e.count])),
      winner: winnerKey,
      tieBreak: tied ? 'smallest value (JSON order) among the most frequent' : null,
      annotators: votes.map((v) => v.annotatorId),
    },
  };
}

function mean(votes: Vote[]): Resolution {
  const numbers = votes.map((v) => Number(v.value)).sort((a, b) => a - b);
  const avg = numbers.reduce((s, n) => s + n, 0) / numbers.length;
  const mid = Math.floor(numbers.length / 2);
  const median = numbers.length % 2 ? numbers[mid]! : (numbers[mid - 1]! + numbers[mid]!) / 2;
  return { value: avg, method: 'mean', provenance: { median, values: numbers, annotators: votes.map((v) => v.annotatorId) } };
}

export function resolveLabel(type: LabelType, votes: Vote[], override?: { reviewerId: string; value: LabelValue }): Resolution {
  if (override)
    return {
      value: override.value,
      method: 'reviewer_override',
      provenance: { reviewerId: override.reviewerId, votes: votes.map((v) => ({ annotatorId: v.annotatorId, value: v.value })) },
    };
  if (votes.length === 0) return { value: null, method: 'none', provenance: { reason: 'no annotator gave this label' } };
  if (type === 'text') {
    // Free text has no majority: keep every answer, resolve to the first submitted.
    return { value: votes[0]!.value, method: 'single', provenance: { values: votes.map((v) => ({ annotatorId: v.annotatorId, value: v.value })) } };
  }
  if (type === 'numeric') return mean(votes);
  return majority(votes);
}
