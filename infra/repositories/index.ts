import type { Db } from '../db.js';
import { createItemsRepo } from './items/index.js';
import { createLabelsRepo } from './labels.repo.js';
import { createPrincipalsRepo } from './principals.repo.js';
import { createQueuesRepo } from './queues.repo.js';
import { createScoresRepo } from './scores.repo.js';
import { createSourcesRepo } from './sources.repo.js';

export function createRepos(db: Db) {
  return {
    principals: createPrincipalsRepo(db),
    labels: createLabelsRepo(db),
    sources: createSourcesRepo(db),
    scores: createScoresRepo(db),
    queues: createQueuesRepo(db),
    items: createItemsRepo(db),
  };
}

export type Repos = ReturnType<typeof createRepos>;
