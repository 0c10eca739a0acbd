import { randomUUID } from 'node:crypto';
import type { ApiClient, TestSystem } from './system.js';
import { createWorkspaceFixture } from './system.js';

export interface Person {
  id: string;
  key: string;
  api: ApiClient;
}

export interface QueueFixture {
  workspaceId: string;
  admin: ApiClient;
  adminKey: string;
  /** Label ids by key. */
  labels: { rating: string; score: string };
  queueId: string;
  annotators: Person[];
  reviewers: Person[];
  managers: Person[];
  itemIds: string[];
  /** Adds n more items (sources created on the fly) and returns their ids. */
  addItems(n: number, priority?: number): Promise<string[]>;
  path(suffix?: string): string;
}

export async function createPerson(system: TestSystem, admin: ApiClient, name: string): Promise<Person> {
  const user = await admin.post('/api/v1/users', { email: `${name}-${randomUUID().slice(0, 8)}@example.com`, name, role: 'member' });
  if (user.status !== 201) throw new Error(`user: ${user.status} ${JSON.stringify(user.body)}`);
  const key = await admin.post('/api/v1/api-keys', { userId: user.body.id, name: `${name} key` });
  return { id: user.body.id, key: key.body.key, api: system.as(key.body.key) };
}

/**
 * A workspace with two labels (rating: categorical good/bad, required; score: numeric 0..10,
 * optional), an active queue with the given people and settings, and `items` items.
 */
export async function createQueueFixture(
  system: TestSystem,
  opts: {
    annotators?: number;
    reviewers?: number;
    managers?: number;
    items?: number;
    annotationsRequired?: number;
    reservationTimeoutSeconds?: number;
    requiresReview?: boolean;
    assignmentStrategy?: 'manual' | 'round_robin' | 'load_balanced';
    status?: 'draft' | 'active';
    extraMembers?: { userId: string; roles: string[] }[];
  } = {},
): Promise<QueueFixture> {
  const ws = await createWorkspaceFixture(system);
  const admin = ws.admin;
  const rating = await admin.post('/api/v1/labels', { key: 'rating', name: 'Rating', type: 'categorical', settings: { options: ['good', 'bad'] } });
  const score = await admin.post('/api/v1/labels', { key: 'score', name: 'Score', type: 'numeric' });
  const people = async (n: number, prefix: string) => Promise.all(Array.from({ length: n }, (_, i) => createPerson(system, admin, `${prefix}${i}`)));
  const annotators = await people(opts.annotators ?? 2, 'annotator');
  const reviewers = await people(opts.reviewers ?? 0, 'reviewer');
  const managers = await people(opts.managers ?? 0, 'manager');
  const created = await admin.post('/api/v1/queues', {
    name: `queue-${randomUUID().slice(0, 6)}`,
    labels: [
      { label: 'rating', required: true },
      { label: 'score', required: false },
    ],
    members: [
      ...annotators.map((p) => ({ userId: p.id, roles: ['annotator'] })),
      ...reviewers.map((p) => ({ userId: p.id, roles: ['reviewer'] })),
      ...managers.map((p) => ({ userId: p.id, roles: ['manager'] })),
      ...(opts.extraMembers ?? []),
    ],
    annotationsRequired: opts.annotationsRequired ?? 1,
    reservationTimeoutSeconds: opts.reservationTimeoutSeconds ?? 60,
    requiresReview: opts.requiresReview ?? false,
    assignmentStrategy: opts.assignmentStrategy ?? 'manual',
  });
  if (created.status !== 201) throw new Error(`queue: ${created.status} ${JSON.stringify(created.body)}`);
  const queueId: string = created.body.id;
  if ((opts.status ?? 'active') === 'active') {
    const activated = await admin.post(`/api/v1/queues/${queueId}/status`, { status: 'active' });
    if (activated.status !== 200) throw new Error(`activate: ${activated.status} ${JSON.stringify(activated.body)}`);
  }
  const addItems = async (n: number, priority = 0) => {
    if (n === 0) return [];
    const sources = Array.from({ length: n }, () => ({ type: 'trace', id: `trace-${randomUUID()}`, input: 'What is 2 + 2?', output: '4' }));
    const upserted = await admin.post('/api/v1/sources', sources);
    if (upserted.status !== 200) throw new Error(`sources: ${upserted.status}`);
    const added = await admin.post(`/api/v1/queues/${queueId}/items`, { items: sources.map((s) => ({ sourceType: 'trace', sourceId: s.id, priority })) });
    if (added.status !== 200 || added.body.errors.length) throw new Error(`items: ${added.status} ${JSON.stringify(added.body)}`);
    return added.body.added.map((a: { itemId: string }) => a.itemId) as string[];
  };
  const itemIds = await addItems(opts.items ?? 1);
  return {
    workspaceId: ws.workspaceId,
    admin,
    adminKey: ws.adminKey,
    labels: { rating: rating.body.id as string, score: score.body.id as string },
    queueId,
    annotators,
    reviewers,
    managers,
    itemIds,
    addItems,
    path: (suffix = '') => `/api/v1/queues/${queueId}${suffix}`,
  };
}

export async function waitFor<T>(fn: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await fn();
    if (accept(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  } while (Date.now() < deadline);
  throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
}
