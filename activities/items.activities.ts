import { ApplicationFailure } from '@temporalio/common';
import type { AssignmentStrategy } from '../domain/queues.js';
import { inputRejectionOf, type Db } from '../infra/db.js';
import { createItemsRepo, type PersistItemInput } from '../infra/repositories/items/index.js';
import { PERSIST_REJECTED } from '../workflows/definitions.js';

export interface PersistActivityInput extends PersistItemInput {
  /**
   * Set by workflows that roll back a refused transition (patch 'serial-commits-with-rollback'): a data
   * error Postgres will refuse on every attempt then fails the activity for good. Without it (items
   * started before that patch) it is retried like any failure, as those workflows expect.
   */
  rejectionsAreFinal?: boolean;
}

/** The item workflow's writes to Postgres. Thin: each is one idempotent repository call. */
export function createItemActivities(db: Db) {
  const items = createItemsRepo(db);
  return {
    async persistItem({ rejectionsAreFinal, ...input }: PersistActivityInput): Promise<void> {
      try {
        await items.persist(input);
      } catch (error) {
        const rejection = inputRejectionOf(error);
        if (rejectionsAreFinal && rejection) {
          throw ApplicationFailure.nonRetryable(`Postgres refused this transition (${rejection}): ${(error as Error).message}`, PERSIST_REJECTED);
        }
        throw error;
      }
    },
    claimTurn: (input: { itemId: string; queueId: string; turn: number; strategy: AssignmentStrategy; exclude: string[] }) => items.claimTurn(input),
  };
}
