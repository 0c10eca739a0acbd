import type { Db } from '../infra/db.js';
import { createItemsRepo, type PersistItemInput } from '../infra/repositories/items/index.js';
import type { AssignmentStrategy } from '../domain/queues.js';

/** The item workflow's writes to Postgres. Thin: each is one idempotent repository call. */
export function createItemActivities(db: Db) {
  const items = createItemsRepo(db);
  return {
    persistItem: (input: PersistItemInput) => items.persist(input),
    claimTurn: (input: { itemId: string; queueId: string; turn: number; strategy: AssignmentStrategy; exclude: string[] }) => items.claimTurn(input),
  };
}
