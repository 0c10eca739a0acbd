import type { Db } from '../infra/db.js';
import type { Repos } from '../infra/repositories/index.js';
import type { TemporalDeps } from '../infra/temporal.js';

/** Everything the use-cases need, built once in main.ts (or by a test) and passed down. */
export interface AppDeps {
  db: Db;
  repos: Repos;
  temporal: TemporalDeps;
}
