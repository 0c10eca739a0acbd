import express from 'express';
import { createAuthenticator } from './auth.js';
import type { AppDeps } from '../app/deps.js';
import { mountEndpoints, type AnyEndpoint, type ResponseDriftHandler } from './endpoint.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { buildOpenApi } from './openapi.js';
import { healthEndpoints } from './routes/health.routes.js';
import { humanReviewEndpoints } from './routes/human-review.routes.js';
import { itemActionEndpoints } from './routes/item-actions.routes.js';
import { labelEndpoints } from './routes/labels.routes.js';
import { queueEndpoints } from './routes/queues.routes.js';
import { scoreEndpoints } from './routes/scores.routes.js';
import { sourceEndpoints } from './routes/sources.routes.js';
import { workspaceEndpoints } from './routes/workspaces.routes.js';

export function allEndpoints(deps: AppDeps): AnyEndpoint[] {
  return [
    ...healthEndpoints(deps),
    ...workspaceEndpoints(deps),
    ...labelEndpoints(deps),
    ...sourceEndpoints(deps),
    ...scoreEndpoints(deps),
    ...humanReviewEndpoints(deps),
    ...queueEndpoints(deps),
    ...itemActionEndpoints(deps),
  ];
}

/** The Express app, without listening: main.ts and the tests both build it from their own deps. */
export interface AppOptions {
  /** Checks every answer against its endpoint's response schema (the one in the OpenAPI document); tests set it. */
  onResponseDrift?: ResponseDriftHandler;
}

export function createApp(deps: AppDeps, options: AppOptions = {}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const endpoints = allEndpoints(deps);
  const openApi = buildOpenApi(endpoints);
  app.get('/api/v1/openapi.json', (_req, res) => void res.json(openApi));
  const router = express.Router();
  mountEndpoints(router, endpoints, createAuthenticator(deps.repos.principals), options.onResponseDrift);
  app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
