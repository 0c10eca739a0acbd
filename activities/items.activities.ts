import type { Db } from '../infra/db.js';
import { createItemsRepo, type PersistItemInput, type RecordSubmissionInput } from '../infra/repositories/items.repo.js';
import type { AssignmentStrategy } from '../domain/queues.js';

/** The item workflow's writes to Postgres. Thin: each is one idempotent repository call. */
export function createItemActivities(db: Db) {
  const items = createItemsRepo(db);
  return {
    persistItem: (input: PersistItemInput) => items.persist(input),
    recordSubmission: (input: RecordSubmissionInput) => items.recordSubmission(input),
    claimTurn: (input: { itemId: string; queueId: string; turn: number; strategy: AssignmentStrategy; exclude: string[] }) => items.claimTurn(input),
    finalizeItem: (input: { itemId: string; reviewerId: string | null }) => items.finalize(input),
  };
}
