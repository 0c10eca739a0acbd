import { randomUUID } from 'node:crypto';
import { createPerson, waitFor, type Person } from './queue-fixture.js';
import { apiClient, createWorkspaceFixture, type ApiClient, type HttpResult, type TestSystem } from './system.js';

/**
 * The callers of the tenancy matrix (test/tenancy-matrix.test.ts). "home" is the workspace whose
 * resources the matrix addresses; the owner lives in its own Default workspace and "other" is the
 * admin of a third workspace with its own queue, labels, sources and scores.
 */
export const PRINCIPALS = ['owner', 'admin', 'member', 'annotator', 'reviewer', 'manager', 'service', 'revoked', 'none', 'other'] as const;
export type PrincipalName = (typeof PRINCIPALS)[number];

/** Whose data a caller may see: its own workspace's. The revoked key and no key see nobody's. */
const HOME_OF: Record<PrincipalName, 'default' | 'home' | 'other' | null> = {
  owner: 'default',
  admin: 'home',
  member: 'home',
  annotator: 'home',
  reviewer: 'home',
  manager: 'home',
  service: 'home',
  revoked: null,
  none: null,
  other: 'other',
};

export const uid = () => randomUUID().slice(0, 12);

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const EMAIL = /[\w.+-]+@example\.com/g;

/** Setup calls must succeed: a failure here is a broken fixture, not a matrix cell. */
export function must(res: HttpResult, status: number, what: string): HttpResult {
  if (res.status !== status) throw new Error(`setup: ${what} answered ${res.status} (expected ${status}): ${JSON.stringify(res.body)}`);
  return res;
}

/** The queue labels every workspace of the matrix has: `rating` (required) and `note` (free text, where the unique values go). */
const LABELS = [
  { key: 'rating', name: 'Rating', type: 'categorical', settings: { options: ['good', 'bad'] } },
  { key: 'note', name: 'Note', type: 'text' },
];
const QUEUE_LABELS = [
  { label: 'rating', required: true },
  { label: 'note', required: false },
];

export interface WorkspaceData {
  workspaceId: string;
  name: string;
  /** The key that set the workspace up; never a column of the matrix (its admin column is a separate admin user). */
  setup: ApiClient;
  memberId: string;
  memberKey: string;
  labelId: string;
  /** A trace source with content, and a span (of another trace) for the v2 human-review routes. */
  traceSourceId: string;
  span: { traceId: string; spanId: string };
  /** An active queue with one person per role; annotationsRequired 1. */
  queueId: string;
  people: { annotator: Person; reviewer: Person; manager: Person };
  /** The open item the item-action rows work on, and the source it was added from. */
  itemId: string;
  itemSourceId: string;
  /** Every id, email, external id and value of this workspace, as it stood before the matrix ran. */
  secrets: Set<string>;
}

async function addSourceItems(setup: ApiClient, queueId: string, n: number): Promise<{ itemId: string; sourceId: string }[]> {
  const sources = Array.from({ length: n }, () => ({ type: 'trace', id: `trace-${uid()}`, input: `question ${uid()}`, output: `answer ${uid()}` }));
  must(await setup.post('/api/v1/sources', sources), 200, 'sources');
  const added = must(
    await setup.post(`/api/v1/queues/${queueId}/items`, { items: sources.map((s) => ({ sourceType: 'trace', sourceId: s.id })) }),
    200,
    'items',
  );
  if (added.body.added.length !== n) throw new Error(`setup: items not added: ${JSON.stringify(added.body)}`);
  return added.body.added.map((a: { itemId: string; sourceId: string }) => ({ itemId: a.itemId, sourceId: a.sourceId }));
}

/**
 * A workspace with something in every table a caller could reach: labels, sources (with content),
 * an active queue with an annotator, a reviewer and a manager, an open item, a completed item with a
 * queue score, an inline score and a v2 human-review value. Its ids and values are collected from
 * what its own admin reads, so a leak of any of them to another workspace can be searched for.
 */
export async function createPopulatedWorkspace(system: TestSystem): Promise<WorkspaceData> {
  const ws = await createWorkspaceFixture(system);
  const setup = ws.admin;
  // Unique values, so that an answer carrying one of them can be found by a plain text search.
  const values = { queueNote: `note-queue-${uid()}`, inlineNote: `note-inline-${uid()}`, input: `input-${uid()}`, output: `output-${uid()}` };
  let labelId = '';
  for (const label of LABELS) {
    const created = must(await setup.post('/api/v1/labels', label), 201, `label ${label.key}`);
    if (label.key === 'rating') labelId = created.body.id;
  }
  const traceSourceId = `trace-${uid()}`;
  const span = { traceId: `trace-${uid()}`, spanId: `span-${uid()}` };
  must(
    await setup.post('/api/v1/sources', [
      { type: 'trace', id: traceSourceId, input: values.input, output: values.output },
      { type: 'observation_span', id: span.spanId, traceId: span.traceId, output: values.output },
    ]),
    200,
    'sources',
  );
  const people = {
    annotator: await createPerson(system, setup, 'annotator'),
    reviewer: await createPerson(system, setup, 'reviewer'),
    manager: await createPerson(system, setup, 'manager'),
  };
  const queue = must(
    await setup.post('/api/v1/queues', {
      name: `matrix-${uid()}`,
      labels: QUEUE_LABELS,
      members: [
        { userId: people.annotator.id, roles: ['annotator'] },
        { userId: people.reviewer.id, roles: ['reviewer'] },
        { userId: people.manager.id, roles: ['manager'] },
      ],
      reservationTimeoutSeconds: 300,
    }),
    201,
    'queue',
  );
  const queueId: string = queue.body.id;
  must(await setup.post(`/api/v1/queues/${queueId}/status`, { status: 'active' }), 200, 'activate');
  const [open, done] = (await addSourceItems(setup, queueId, 2)) as [{ itemId: string; sourceId: string }, { itemId: string; sourceId: string }];

  // A completed item: its queue scores are the values most worth guarding.
  must(await people.annotator.api.post(`/api/v1/queues/${queueId}/items/${done.itemId}/reserve`), 200, 'reserve');
  must(
    await people.annotator.api.post(`/api/v1/queues/${queueId}/items/${done.itemId}/submit`, {
      annotations: [
        { label: 'rating', value: 'good' },
        { label: 'note', value: values.queueNote },
      ],
    }),
    200,
    'submit',
  );
  must(await setup.post('/api/v1/scores', { sourceType: 'trace', sourceId: traceSourceId, label: 'note', value: values.inlineNote }), 201, 'inline score');
  must(await setup.post(`/v2/traces/${span.traceId}/spans/${span.spanId}/annotation`, { annotations: [{ key: 'rating', value: 'good' }] }), 200, 'v2');

  const secrets = new Set<string>([ws.workspaceId, traceSourceId, span.traceId, span.spanId, open.sourceId, done.sourceId, ...Object.values(values)]);
  const reads = [
    '/api/v1/workspaces',
    '/api/v1/users?limit=500',
    '/api/v1/api-keys?limit=500',
    '/api/v1/labels?includeArchived=true&limit=500',
    '/api/v1/queues?limit=500',
    `/api/v1/queues/${queueId}/items?limit=500`,
    '/api/v1/scores?limit=500',
  ];
  for (const path of reads) {
    const text = JSON.stringify(must(await setup.get(path), 200, path).body);
    for (const found of [...(text.match(UUID) ?? []), ...(text.match(EMAIL) ?? [])]) secrets.add(found);
  }
  const name = must(await setup.get('/api/v1/workspaces'), 200, 'workspaces').body.data[0].name as string;
  secrets.add(name);
  return {
    workspaceId: ws.workspaceId,
    name,
    setup,
    memberId: ws.memberId,
    memberKey: ws.memberKey,
    labelId,
    traceSourceId,
    span,
    queueId,
    people,
    itemId: open.itemId,
    itemSourceId: open.sourceId,
    secrets,
  };
}

/** A target of a caller's own, for rows whose allowed call would destroy what the next caller needs. */
export type Target = Record<string, string>;

export interface TenancyFixture {
  system: TestSystem;
  home: WorkspaceData;
  other: WorkspaceData;
  callers: Record<PrincipalName, ApiClient>;
  /** The ids of the callers that are principals (the revoked key's admin included), by column. */
  ids: Partial<Record<PrincipalName, string>>;
  fresh: {
    apiKey(): Promise<Target>;
    label(): Promise<Target>;
    queue(): Promise<Target>;
    item(): Promise<Target>;
    inlineScore(): Promise<Target>;
  };
}

/** A user of the workspace with the given workspace role, and a key of theirs. */
async function createUserKey(system: TestSystem, setup: ApiClient, role: 'admin' | 'member', name: string) {
  const user = must(await setup.post('/api/v1/users', { email: `${name}-${uid()}@example.com`, name, role }), 201, `user ${name}`);
  const key = must(await setup.post('/api/v1/api-keys', { userId: user.body.id, name: `${name} key` }), 201, `key ${name}`);
  return { id: user.body.id as string, keyId: key.body.id as string, key: key.body.key as string, api: system.as(key.body.key) };
}

export async function createTenancyFixture(system: TestSystem): Promise<TenancyFixture> {
  const [home, other] = [await createPopulatedWorkspace(system), await createPopulatedWorkspace(system)];
  const setup = home.setup;
  const admin = await createUserKey(system, setup, 'admin', 'admin');
  // An admin's key, revoked: if revocation ever stopped working, its calls would succeed, not merely change status.
  const revoked = await createUserKey(system, setup, 'admin', 'revoked-admin');
  must(await setup.delete(`/api/v1/api-keys/${revoked.keyId}`), 204, 'revoke');
  const service = must(await setup.post('/api/v1/api-keys', { name: `service-${uid()}` }), 201, 'service key');
  for (const id of [admin.id, admin.keyId, revoked.id, revoked.keyId, service.body.id, service.body.principalId]) home.secrets.add(id);

  const callers: Record<PrincipalName, ApiClient> = {
    owner: system.as(system.ownerKey),
    admin: admin.api,
    member: system.as(home.memberKey),
    annotator: home.people.annotator.api,
    reviewer: home.people.reviewer.api,
    manager: home.people.manager.api,
    service: system.as(service.body.key),
    revoked: revoked.api,
    none: apiClient(system.url, undefined),
    other: other.setup,
  };

  const fresh: TenancyFixture['fresh'] = {
    async apiKey() {
      const key = must(await setup.post('/api/v1/api-keys', { name: `target-${uid()}` }), 201, 'target key');
      return { id: key.body.id, key: key.body.key };
    },
    async label() {
      const label = must(await setup.post('/api/v1/labels', { key: `target-${uid()}`, name: 'Target', type: 'thumbs' }), 201, 'target label');
      return { id: label.body.id };
    },
    async queue() {
      // The same members as the shared queue, so a manager is a manager of the target too.
      const queue = must(
        await setup.post('/api/v1/queues', {
          name: `target-${uid()}`,
          labels: QUEUE_LABELS,
          members: [
            { userId: home.people.annotator.id, roles: ['annotator'] },
            { userId: home.people.reviewer.id, roles: ['reviewer'] },
            { userId: home.people.manager.id, roles: ['manager'] },
          ],
        }),
        201,
        'target queue',
      );
      return { id: queue.body.id };
    },
    async item() {
      const [added] = await addSourceItems(setup, home.queueId, 1);
      return { itemId: added!.itemId };
    },
    async inlineScore() {
      // Inline scores upsert on (source, label, identity): a new source gives a new score.
      const sourceId = `trace-${uid()}`;
      must(await setup.post('/api/v1/sources', [{ type: 'trace', id: sourceId }]), 200, 'target source');
      const score = must(await setup.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: 'rating', value: 'bad' }), 201, 'target score');
      return { id: score.body.id, sourceId };
    },
  };

  return {
    system,
    home,
    other,
    callers,
    ids: {
      admin: admin.id,
      member: home.memberId,
      annotator: home.people.annotator.id,
      reviewer: home.people.reviewer.id,
      manager: home.people.manager.id,
      service: service.body.principalId,
      revoked: revoked.id,
    },
    fresh,
  };
}

/**
 * The ids and values of every workspace but the caller's own that appear in an answer. What the
 * caller sent (an id in the path, say, echoed by a 404's message) reveals nothing and is not a leak.
 */
export function foreignDataIn(f: TenancyFixture, who: PrincipalName, sent: string, answer: string, allowed: ReadonlySet<string> = new Set()): string[] {
  const home = HOME_OF[who];
  const foreign = [home === 'home' ? null : f.home, home === 'other' ? null : f.other].filter((w): w is WorkspaceData => w !== null);
  return foreign.flatMap((w) => [...w.secrets]).filter((secret) => answer.includes(secret) && !sent.includes(secret) && !allowed.has(secret));
}

/** The viewers of the blind-rule table: A, B and C annotate; MA annotates and manages; P manages; R reviews. */
export const BLIND_PEOPLE = ['A', 'B', 'C', 'MA', 'P', 'R'] as const;
export type BlindPerson = (typeof BLIND_PEOPLE)[number];
export type BlindItem = 'X' | 'Y';

export interface BlindCast {
  queueId: string;
  items: Record<BlindItem, { itemId: string; sourceId: string }>;
  people: Record<BlindPerson, Person>;
  /** A's note on each item: the value the blind rule hides. Unique, so any answer can be searched for it. */
  secret: Record<BlindItem, string>;
  /** What B's reserve of X and MA's reserve of Y answered: an item detail, under the blind rule too. */
  reserveAnswers: HttpResult[];
  path(suffix?: string): string;
}

/**
 * A queue of the home workspace needing 2 annotations, with review, and two items where A has
 * submitted: on X annotator B holds the second seat (a reservation), on Y the manager-annotator MA does.
 */
export async function createBlindCast(system: TestSystem, home: WorkspaceData): Promise<BlindCast> {
  const setup = home.setup;
  const people = {} as Record<BlindPerson, Person>;
  for (const name of BLIND_PEOPLE) people[name] = await createPerson(system, setup, `blind-${name}`);
  const roles: Record<BlindPerson, string[]> = {
    A: ['annotator'],
    B: ['annotator'],
    C: ['annotator'],
    MA: ['annotator', 'manager'],
    P: ['manager'],
    R: ['reviewer'],
  };
  const queue = must(
    await setup.post('/api/v1/queues', {
      name: `blind-${uid()}`,
      labels: QUEUE_LABELS,
      members: BLIND_PEOPLE.map((p) => ({ userId: people[p].id, roles: roles[p] })),
      annotationsRequired: 2,
      requiresReview: true,
      reservationTimeoutSeconds: 300,
    }),
    201,
    'blind queue',
  );
  const queueId: string = queue.body.id;
  const path = (suffix = '') => `/api/v1/queues/${queueId}${suffix}`;
  must(await setup.post(path('/status'), { status: 'active' }), 200, 'activate');
  const [x, y] = (await addSourceItems(setup, queueId, 2)) as [{ itemId: string; sourceId: string }, { itemId: string; sourceId: string }];
  const items = { X: x, Y: y };
  const secret = { X: `blind-X-${uid()}`, Y: `blind-Y-${uid()}` };
  for (const item of ['X', 'Y'] as const) await submitNote(people.A, path(`/items/${items[item].itemId}`), secret[item]);
  const reserveAnswers = [
    must(await people.B.api.post(path(`/items/${x.itemId}/reserve`)), 200, 'B reserves X'),
    must(await people.MA.api.post(path(`/items/${y.itemId}/reserve`)), 200, 'MA reserves Y'),
  ];
  return { queueId, items, people, secret, reserveAnswers, path };
}

/** Reserves (unless already held) and submits a note on an item. */
async function submitNote(person: Person, itemPath: string, note: string, reserve = true): Promise<void> {
  if (reserve) must(await person.api.post(`${itemPath}/reserve`), 200, 'reserve');
  must(
    await person.api.post(`${itemPath}/submit`, {
      annotations: [
        { label: 'rating', value: 'good' },
        { label: 'note', value: note },
      ],
    }),
    200,
    'submit',
  );
}

async function waitForStatus(cast: BlindCast, setup: ApiClient, status: string): Promise<void> {
  for (const { itemId } of Object.values(cast.items)) {
    await waitFor(
      () => setup.get(cast.path(`/items/${itemId}`)),
      (res) => res.body?.item?.status === status,
      10_000,
    );
  }
}

/** B and MA submit the seats they hold: both items are pending review. */
export async function moveToReview(cast: BlindCast, setup: ApiClient): Promise<void> {
  await submitNote(cast.people.B, cast.path(`/items/${cast.items.X.itemId}`), `b-${uid()}`, false);
  await submitNote(cast.people.MA, cast.path(`/items/${cast.items.Y.itemId}`), `ma-${uid()}`, false);
  await waitForStatus(cast, setup, 'pending_review');
}

/** R approves both items: they are completed. */
export async function moveToCompleted(cast: BlindCast, setup: ApiClient): Promise<void> {
  for (const { itemId } of Object.values(cast.items)) {
    must(await cast.people.R.api.post(cast.path(`/items/${itemId}/review`), { action: 'approve' }), 200, 'approve');
  }
  await waitForStatus(cast, setup, 'completed');
}
