import type { Db } from '../infra/db.js';
import { createItemActivities } from './items.activities.js';

export interface ActivityDeps {
  db: Db;
}

/** Every activity, built from explicit deps. Workflows import only the type. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createItemActivities(deps.db),
  };
}

export type Activities = ReturnType<typeof createActivities>;
