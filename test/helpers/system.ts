import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { inject as injectShared } from 'vitest';
import { createApp } from '../../api/app.js';
import { generateApiKey } from '../../infra/api-keys.js';
import { createDb, type Db } from '../../infra/db.js';
import { createRepos, type Repos } from '../../infra/repositories/index.js';
import { temporalDeps, type TemporalDeps } from '../../infra/temporal.js';
import type { Activities } from '../../activities/index.js';
import { createWorker } from '../../worker/create-worker.js';
import { withDatabase, type SharedServers } from './global-setup.js';

export interface HttpResult {
  status: number;
  body: any;
  headers: Headers;
}

export interface TestSystem {
  url: string;
  db: Db;
  repos: Repos;
  temporal: TemporalDeps;
  databaseUrl: string;
  ownerKey: string;
  ownerWorkspaceId: string;
  /** Answers that did not match their endpoint's response schema so far. */
  responseDrifts(): string[];
  /** Calls the API as the holder of `key`. */
  as(key: string): ApiClient;
  startWorker(opts?: { wrapActivities?: (activities: Activities) => Activities }): Promise<Worker>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

export interface ApiClient {
  get(path: string): Promise<HttpResult>;
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  patch(path: string, body?: unknown): Promise<HttpResult>;
  delete(path: string, body?: unknown): Promise<HttpResult>;
  raw(method: string, path: string, body: string | undefined, headers?: Record<string, string>): Promise<HttpResult>;
}

async function request(url: string, method: string, body: string | undefined, headers: Record<string, string>): Promise<HttpResult> {
  const response = await fetch(url, { method, body, headers });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export function apiClient(baseUrl: string, key: string | undefined): ApiClient {
  const auth: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` };
  const json =
    (method: string) =>
    (path: string, body?: unknown, headers: Record<string, string> = {}) =>
      request(`${baseUrl}${path}`, method, body === undefined ? undefined : JSON.stringify(body), {
        ...auth,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
  return {
    get: (path) => request(`${baseUrl}${path}`, 'GET', undefined, auth),
    post: json('POST'),
    patch: json('PATCH'),
    delete: json('DELETE'),
    raw: (method, path, body, headers = {}) => request(`${baseUrl}${path}`, method, body, { ...auth, ...headers }),
  };
}

/**
 * A whole Quorum for one test file: its own database (cloned from the migrated template), its own
 * task queue and worker on the shared Temporal dev server, and the API on a random local port.
 */
export async function startTestSystem(opts: { worker?: boolean; servers?: SharedServers; requestDeadlineMs?: number } = {}): Promise<TestSystem> {
  const inject = <K extends keyof SharedServers>(key: K): SharedServers[K] => (opts.servers ? opts.servers[key] : injectShared(key));
  const databaseName = `quorum_test_${inject('runId')}_${randomUUID().slice(0, 8)}`;
  const adminUrl = inject('adminDatabaseUrl');
  const admin = createDb(adminUrl, { max: 1 });
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.raw('create database ?? template ??', [databaseName, inject('templateDatabase')]);
      break;
    } catch (error) {
      // Two files cloning the template at the same moment: Postgres allows one copy at a time.
      if ((error as { code?: string }).code !== '55006' || attempt > 50) throw error;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
  await admin.destroy();

  const databaseUrl = withDatabase(adminUrl, databaseName);
  const db = createDb(databaseUrl);
  const repos = createRepos(db);
  const address = inject('temporalAddress');
  const connection = await Connection.connect({ address });
  const taskQueue = `test-${randomUUID()}`;
  const temporal = temporalDeps(connection, 'default', taskQueue, { requestDeadlineMs: opts.requestDeadlineMs });

  // Every answer is parsed against its declared response schema: a handler that drifts from the OpenAPI document fails its test.
  const drifts: string[] = [];
  const app = createApp({ db, repos, temporal }, { onResponseDrift: (e, issues) => drifts.push(`${e.method.toUpperCase()} ${e.path}: ${issues}`) });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;

  const ownerKey = generateApiKey();
  const { workspaceId: ownerWorkspaceId } = await repos.principals.ensureOwner(ownerKey);

  let worker: Worker | undefined;
  let workerRun: Promise<void> | undefined;
  let nativeConnection: NativeConnection | undefined;

  const system: TestSystem = {
    url,
    db,
    repos,
    temporal,
    databaseUrl,
    ownerKey,
    ownerWorkspaceId,
    as: (key) => apiClient(url, key),
    async startWorker(workerOpts = {}) {
      nativeConnection ??= await NativeConnection.connect({ address });
      worker = await createWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        db,
        workflowBundle: { codePath: inject('workflowBundlePath') },
        wrapActivities: workerOpts.wrapActivities,
      });
      workerRun = worker.run();
      return worker;
    },
    async stopWorker() {
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun;
      worker = undefined;
    },
    responseDrifts: () => [...drifts],
    async close() {
      await system.stopWorker();
      await nativeConnection?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await connection.close();
      await db.destroy();
      if (drifts.length > 0) throw new Error(`Responses outside their schemas:\n${drifts.join('\n')}`);
    },
  };
  if (opts.worker !== false) await system.startWorker();
  return system;
}

/** A workspace with an admin key, a member user and that member's key. */
export async function createWorkspaceFixture(system: TestSystem, name = `ws-${randomUUID().slice(0, 6)}`) {
  const owner = system.as(system.ownerKey);
  const created = await owner.post('/api/v1/workspaces', { name });
  if (created.status !== 201) throw new Error(`workspace: ${created.status} ${JSON.stringify(created.body)}`);
  const adminKey: string = created.body.apiKey;
  const admin = system.as(adminKey);
  const member = await admin.post('/api/v1/users', { email: `member-${randomUUID().slice(0, 6)}@example.com`, name: 'Member', role: 'member' });
  const memberKey = await admin.post('/api/v1/api-keys', { userId: member.body.id, name: 'member key' });
  return {
    workspaceId: created.body.workspace.id as string,
    adminId: created.body.admin.id as string,
    adminKey,
    admin,
    memberId: member.body.id as string,
    memberKey: memberKey.body.key as string,
    member: system.as(memberKey.body.key),
  };
}
