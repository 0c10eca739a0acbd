import type { Db } from '../../db.js';
import { createItemReads } from './item-reads.js';
import { createItemWrites } from './item-writes.js';

export type { ItemFilter, ItemRecord, NextCandidate } from './item-record.js';
export type { PersistItemInput, SubmissionWrite } from './item-writes.js';

/**
 * The item repository: the only module that writes queue_items, item_events, item_results,
 * submissions and assignment_turns (test/boundaries/single-writer.test.ts checks it). Reads in
 * item-reads.ts, writes in item-writes.ts.
 */
export function createItemsRepo(db: Db) {
  return { ...createItemReads(db), ...createItemWrites(db) };
}

export type ItemsRepo = ReturnType<typeof createItemsRepo>;
