import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allEndpoints } from '../api/app.js';
import { startTestSystem, type ApiClient, type HttpResult, type TestSystem } from './helpers/system.js';
import {
  BLIND_PEOPLE,
  PRINCIPALS,
  createBlindCast,
  createTenancyFixture,
  foreignDataIn,
  moveToCompleted,
  moveToReview,
  uid,
  type BlindCast,
  type BlindItem,
  type PrincipalName,
  type Target,
  type TenancyFixture,
} from './helpers/tenancy-fixture.js';

/**
 * The tenancy and permission matrix (DESIGN.md §3, §4 blind rule, §5): every endpoint × every kind
 * of caller, the status each gets, 404 (never 403) for another workspace's resources, and no answer
 * that carries another workspace's ids or values. The endpoints come from allEndpoints(), so an
 * endpoint without a row here fails the first test: new endpoints must join the matrix.
 *
 * Columns (test/helpers/tenancy-fixture.ts): the instance owner (whose home is its own Default
 * workspace), the home workspace's admin (a user), a plain member in no queue, the annotator,
 * reviewer and manager of the home queue, a service key (role member, in no queue), a revoked
 * admin key, no key, and the admin of another workspace.
 *
 * Cells:
 *   ok    allowed: the call gets past authorization. Any answer but 401, 403, 404 or a 5xx (a 400
 *         or 409 is the rules of the resource talking, not the permissions).
 *   200   exactly that status (reads, where the answer is certain)
 *   401 / 403 / 404   refused with exactly that status and its error code (UNAUTHENTICATED,
 *         FORBIDDEN, NOT_FOUND), and not the router's "no route" 404
 *   e404  a per-entry batch: 200, but every entry refused as NOT_FOUND (another workspace's source)
 */
const MATRIX = `
endpoint                                                   owner  admin  member  annotator  reviewer  manager  service  revoked  none  other
GET    /healthz                                            200    200    200     200        200       200      200      200      200   200
GET    /readyz                                             200    200    200     200        200       200      200      200      200   200
POST   /api/v1/workspaces                                  ok     403    403     403        403       403      403      401      401   403
GET    /api/v1/workspaces                                  200    200    200     200        200       200      200      401      401   200
POST   /api/v1/users                                       ok     ok     403     403        403       403      403      401      401   ok
GET    /api/v1/users                                       200    200    200     200        200       200      200      401      401   200
POST   /api/v1/api-keys                                    ok     ok     403     403        403       403      403      401      401   ok
GET    /api/v1/api-keys                                    200    200    403     403        403       403      403      401      401   200
DELETE /api/v1/api-keys/:id                                404    ok     403     403        403       403      403      401      401   404
POST   /api/v1/labels                                      ok     ok     403     403        403       403      403      401      401   ok
GET    /api/v1/labels                                      200    200    200     200        200       200      200      401      401   200
GET    /api/v1/labels/:idOrKey                             404    200    200     200        200       200      200      401      401   404
PATCH  /api/v1/labels/:idOrKey                             404    ok     403     403        403       403      403      401      401   404
DELETE /api/v1/labels/:idOrKey                             404    ok     403     403        403       403      403      401      401   404
POST   /api/v1/labels/:idOrKey/restore                     404    ok     403     403        403       403      403      401      401   404
POST   /api/v1/sources                                     ok     ok     ok      ok         ok        ok       ok       401      401   ok
GET    /api/v1/sources/:type/:id                           404    200    200     200        200       200      200      401      401   404
POST   /api/v1/scores                                      404    ok     ok      ok         ok        ok       ok       401      401   404
POST   /api/v1/scores/bulk                                 e404   ok     ok      ok         ok        ok       ok       401      401   e404
GET    /api/v1/scores                                      200    200    200     200        200       200      200      401      401   200
DELETE /api/v1/scores/:id                                  404    ok     403     403        403       403      403      401      401   404
POST   /v2/traces/:traceId/spans/:spanId/annotation        404    ok     ok      ok         ok        ok       ok       401      401   404
DELETE /v2/traces/:traceId/spans/:spanId/annotation        404    ok     ok      ok         ok        ok       ok       401      401   404
POST   /api/v1/queues                                      ok     ok     403     403        403       403      403      401      401   ok
GET    /api/v1/queues                                      200    200    200     200        200       200      200      401      401   200
GET    /api/v1/queues/:id                                  404    200    404     200        200       200      404      401      401   404
PATCH  /api/v1/queues/:id                                  404    ok     404     403        403       ok       404      401      401   404
DELETE /api/v1/queues/:id                                  404    ok     403     403        403       403      403      401      401   404
POST   /api/v1/queues/:id/status                           404    ok     404     403        403       ok       404      401      401   404
POST   /api/v1/queues/:id/items                            404    ok     404     403        403       ok       404      401      401   404
GET    /api/v1/queues/:id/items                            404    200    404     200        200       200      404      401      401   404
POST   /api/v1/queues/:id/items/assign                     404    ok     404     403        403       ok       404      401      401   404
GET    /api/v1/queues/:id/progress                         404    200    404     200        200       200      404      401      401   404
GET    /api/v1/queues/:id/items/:itemId                    404    200    404     200        200       200      404      401      401   404
DELETE /api/v1/queues/:id/items/:itemId                    404    ok     404     403        403       ok       404      401      401   404
POST   /api/v1/queues/:id/next                             404    403    404     ok         403       403      404      401      401   404
POST   /api/v1/queues/:id/next?mode=review                 404    403    404     403        ok        403      404      401      401   404
POST   /api/v1/queues/:id/items/:itemId/reserve            404    403    404     ok         403       403      404      401      401   404
POST   /api/v1/queues/:id/items/:itemId/heartbeat          404    403    404     ok         403       403      404      401      401   404
POST   /api/v1/queues/:id/items/:itemId/release            404    403    404     ok         403       403      404      401      401   404
POST   /api/v1/queues/:id/items/:itemId/skip               404    403    404     ok         403       403      404      401      401   404
POST   /api/v1/queues/:id/items/:itemId/submit             404    403    404     ok         403       403      404      401      401   404
POST   /api/v1/queues/:id/items/:itemId/review             404    403    404     403        ok        403      404      401      401   404
POST   /api/v1/queues/:id/items/:itemId/reset              404    ok     404     403        403       ok       404      401      401   404
GET    /api/v1/queues/:id/items/:itemId/history            404    200    404     200        200       200      404      401      401   404
`;

/**
 * A cell that the code gets wrong today: `${row} as ${principal}` → what is wrong. Such a cell runs as
 * `it.fails`, so the suite stays green until it is fixed, and then asks for the entry to be removed.
 */
const KNOWN_VIOLATIONS: Partial<Record<string, string>> = {};

const EXPECTATIONS = ['ok', '200', '401', '403', '404', 'e404'] as const;
type Expectation = (typeof EXPECTATIONS)[number];

interface MatrixRow {
  /** `METHOD path`, with a query when one endpoint has several rows (next and next?mode=review). */
  key: string;
  method: string;
  path: string;
  /** The endpoint's declaration, as allEndpoints() names it: `METHOD path`. */
  endpoint: string;
  expect: Record<PrincipalName, Expectation>;
}

function parseMatrix(table: string): MatrixRow[] {
  const [header, ...lines] = table
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/));
  if (header!.join(' ') !== ['endpoint', ...PRINCIPALS].join(' ')) throw new Error(`matrix header must be: endpoint ${PRINCIPALS.join(' ')}`);
  return lines.map(([method, path, ...cells]) => {
    const key = `${method} ${path}`;
    if (cells.length !== PRINCIPALS.length) throw new Error(`${key}: ${cells.length} cells for ${PRINCIPALS.length} principals`);
    const bad = cells.filter((c) => !(EXPECTATIONS as readonly string[]).includes(c));
    if (bad.length) throw new Error(`${key}: unknown cell(s) ${bad.join(', ')}`);
    const expectations = Object.fromEntries(PRINCIPALS.map((p, i) => [p, cells[i]])) as Record<PrincipalName, Expectation>;
    return { key, method: method!, path: path!, endpoint: `${method} ${path!.split('?')[0]}`, expect: expectations };
  });
}

const ROWS = parseMatrix(MATRIX);

/**
 * The blind rule on every read that returns values (DESIGN.md §4; test/queues/blind.test.ts has
 * the finer cases). A needs 2 annotations per item and A has submitted both; on X annotator B
 * holds the other seat, on Y the manager-annotator MA does. Each cell: can the viewer find A's
 * value anywhere in what they read?
 *   sees    in the item's `annotations` and in GET /scores (by queue, by source, unfiltered)
 *   blind   the item is readable (200) but A's value is in none of those reads
 *   none    the item is a 404 (no access to the queue) and A's value is in none of those reads
 *   scores  the item is a 404, but GET /scores shows the value: once an item is completed its
 *           scores are workspace data, like inline scores, for every member of the workspace
 * In every cell A's value is never in the progress, the item list or the timeline (they carry no values).
 */
const BLIND = `
viewer   open:X  open:Y  review:X  review:Y  completed:X  completed:Y
A        sees    sees    sees      sees      sees         sees
B        blind   blind   blind     blind     sees         sees
C        blind   blind   blind     blind     sees         sees
MA       blind   blind   sees      blind     sees         sees
P        sees    sees    sees      sees      sees         sees
R        blind   blind   sees      sees      sees         sees
admin    sees    sees    sees      sees      sees         sees
member   none    none    none      none      scores       scores
service  none    none    none      none      scores       scores
other    none    none    none      none      none         none
`;
// MA sees X in review: the rule blinds a manager only while they hold or could still take a seat, and on X MA can take none any more.
const PHASES = ['open', 'review', 'completed'] as const;
type Phase = (typeof PHASES)[number];
const BLIND_VIEWERS = [...BLIND_PEOPLE, 'admin', 'member', 'service', 'other'] as const;
type Viewer = (typeof BLIND_VIEWERS)[number];
const SEEN = ['sees', 'blind', 'none', 'scores'] as const;
type Seen = (typeof SEEN)[number];

function parseBlind(table: string): { viewer: Viewer; cells: { phase: Phase; item: BlindItem; seen: Seen }[] }[] {
  const [header, ...lines] = table
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  const columns = header!.slice(1).map((c) => c.split(':') as [Phase, BlindItem]);
  if (lines.map((l) => l[0]).join(' ') !== BLIND_VIEWERS.join(' ')) throw new Error(`blind table rows must be: ${BLIND_VIEWERS.join(' ')}`);
  return lines.map(([viewer, ...cells]) => {
    if (cells.length !== columns.length || cells.some((c) => !(SEEN as readonly string[]).includes(c)))
      throw new Error(`blind table row ${viewer}: ${cells.join(' ')}`);
    return { viewer: viewer as Viewer, cells: columns.map(([phase, item], i) => ({ phase, item, seen: cells[i] as Seen })) };
  });
}

const BLIND_ROWS = parseBlind(BLIND);

// ─── How each row is called ─────────────────────────────────────────────────────────────────────

interface Call {
  path(f: TenancyFixture, target: Target): string;
  body?(f: TenancyFixture, target: Target): unknown;
  /** A target of the caller's own, for rows whose allowed call destroys it: no cell depends on the ones before it. */
  fresh?(f: TenancyFixture): Promise<Target>;
  /** After a refused call: the target is as it was (a refusal that still acted would be worse than none). */
  intact?(f: TenancyFixture, target: Target): Promise<void>;
}

const queuePath = (f: TenancyFixture, suffix = '') => `/api/v1/queues/${f.home.queueId}${suffix}`;
const itemPath = (action: string) => (f: TenancyFixture) => queuePath(f, `/items/${f.home.itemId}${action}`);
const spanPath = (f: TenancyFixture) => `/v2/traces/${f.home.span.traceId}/spans/${f.home.span.spanId}/annotation`;
const at = (path: string) => () => path;
/** An inline score on the home workspace's trace, by the home label's id: another workspace can reach neither. */
const homeScore = (f: TenancyFixture) => ({ sourceType: 'trace', sourceId: f.home.traceSourceId, label: f.home.labelId, value: 'good' });

const CALLS: Record<string, Call> = {
  'GET /healthz': { path: at('/healthz') },
  'GET /readyz': { path: at('/readyz') },
  'POST /api/v1/workspaces': { path: at('/api/v1/workspaces'), body: () => ({ name: `matrix-${uid()}` }) },
  'GET /api/v1/workspaces': { path: at('/api/v1/workspaces') },
  'POST /api/v1/users': { path: at('/api/v1/users'), body: () => ({ email: `new-${uid()}@example.com`, name: 'New', role: 'member' }) },
  'GET /api/v1/users': { path: at('/api/v1/users') },
  'POST /api/v1/api-keys': { path: at('/api/v1/api-keys'), body: () => ({ name: `key-${uid()}` }) },
  'GET /api/v1/api-keys': { path: at('/api/v1/api-keys') },
  'DELETE /api/v1/api-keys/:id': {
    fresh: (f) => f.fresh.apiKey(),
    path: (_f, t) => `/api/v1/api-keys/${t.id}`,
    intact: async (f, t) => expect((await f.system.as(t.key!).get('/api/v1/workspaces')).status, 'the key still works').toBe(200),
  },
  'POST /api/v1/labels': { path: at('/api/v1/labels'), body: () => ({ key: `new-${uid()}`, name: 'New', type: 'thumbs' }) },
  'GET /api/v1/labels': { path: at('/api/v1/labels') },
  'GET /api/v1/labels/:idOrKey': { path: (f) => `/api/v1/labels/${f.home.labelId}` },
  'PATCH /api/v1/labels/:idOrKey': { path: (f) => `/api/v1/labels/${f.home.labelId}`, body: () => ({ description: `changed ${uid()}` }) },
  'DELETE /api/v1/labels/:idOrKey': {
    fresh: (f) => f.fresh.label(),
    path: (_f, t) => `/api/v1/labels/${t.id}`,
    intact: async (f, t) => expect((await f.home.setup.get(`/api/v1/labels/${t.id}`)).body.archived, 'the label is not archived').toBe(false),
  },
  'POST /api/v1/labels/:idOrKey/restore': { path: (f) => `/api/v1/labels/${f.home.labelId}/restore` },
  'POST /api/v1/sources': { path: at('/api/v1/sources'), body: () => [{ type: 'trace', id: `new-${uid()}`, output: 'new' }] },
  'GET /api/v1/sources/:type/:id': { path: (f) => `/api/v1/sources/trace/${f.home.traceSourceId}` },
  'POST /api/v1/scores': { path: at('/api/v1/scores'), body: homeScore },
  'POST /api/v1/scores/bulk': { path: at('/api/v1/scores/bulk'), body: (f) => [homeScore(f)] },
  'GET /api/v1/scores': { path: at('/api/v1/scores?limit=500') },
  'DELETE /api/v1/scores/:id': {
    fresh: (f) => f.fresh.inlineScore(),
    path: (_f, t) => `/api/v1/scores/${t.id}`,
    intact: async (f, t) => {
      const scores = await f.home.setup.get(`/api/v1/scores?sourceType=trace&sourceId=${t.sourceId}`);
      expect(
        scores.body.data.map((s: { id: string }) => s.id),
        'the score is still there',
      ).toContain(t.id);
    },
  },
  'POST /v2/traces/:traceId/spans/:spanId/annotation': { path: spanPath, body: () => ({ annotations: [{ key: 'rating', value: 'bad' }] }) },
  'DELETE /v2/traces/:traceId/spans/:spanId/annotation': { path: spanPath, body: () => ({ keys: ['rating'] }) },
  'POST /api/v1/queues': { path: at('/api/v1/queues'), body: () => ({ name: `new-${uid()}` }) },
  'GET /api/v1/queues': { path: at('/api/v1/queues') },
  'GET /api/v1/queues/:id': { path: (f) => queuePath(f) },
  'PATCH /api/v1/queues/:id': { path: (f) => queuePath(f), body: () => ({ description: `changed ${uid()}` }) },
  'DELETE /api/v1/queues/:id': {
    fresh: (f) => f.fresh.queue(),
    path: (_f, t) => `/api/v1/queues/${t.id}`,
    intact: async (f, t) => expect((await f.home.setup.get(`/api/v1/queues/${t.id}`)).status, 'the queue is still there').toBe(200),
  },
  // Already active: an allowed call changes nothing the later rows need.
  'POST /api/v1/queues/:id/status': { path: (f) => queuePath(f, '/status'), body: () => ({ status: 'active' }) },
  // A source already in the queue: a duplicate, so no new item (and no new work for `next`).
  'POST /api/v1/queues/:id/items': {
    path: (f) => queuePath(f, '/items'),
    body: (f) => ({ items: [{ sourceType: 'trace', sourceId: f.home.itemSourceId }] }),
  },
  'GET /api/v1/queues/:id/items': { path: (f) => queuePath(f, '/items') },
  'POST /api/v1/queues/:id/items/assign': {
    path: (f) => queuePath(f, '/items/assign'),
    body: (f) => ({ itemIds: [f.home.itemId], userIds: [], action: 'add' }),
  },
  'GET /api/v1/queues/:id/progress': { path: (f) => queuePath(f, '/progress') },
  'GET /api/v1/queues/:id/items/:itemId': { path: itemPath('') },
  'DELETE /api/v1/queues/:id/items/:itemId': {
    fresh: (f) => f.fresh.item(),
    path: (f, t) => queuePath(f, `/items/${t.itemId}`),
    intact: async (f, t) => expect((await f.home.setup.get(queuePath(f, `/items/${t.itemId}`))).body.item.status, 'the item is open').not.toBe('cancelled'),
  },
  'POST /api/v1/queues/:id/next': { path: (f) => queuePath(f, '/next') },
  'POST /api/v1/queues/:id/next?mode=review': { path: (f) => queuePath(f, '/next?mode=review') },
  'POST /api/v1/queues/:id/items/:itemId/reserve': { path: itemPath('/reserve') },
  'POST /api/v1/queues/:id/items/:itemId/heartbeat': { path: itemPath('/heartbeat') },
  'POST /api/v1/queues/:id/items/:itemId/release': { path: itemPath('/release') },
  'POST /api/v1/queues/:id/items/:itemId/skip': { path: itemPath('/skip') },
  'POST /api/v1/queues/:id/items/:itemId/submit': { path: itemPath('/submit'), body: () => ({ annotations: [{ label: 'rating', value: 'good' }] }) },
  'POST /api/v1/queues/:id/items/:itemId/review': { path: itemPath('/review'), body: () => ({ action: 'approve' }) },
  'POST /api/v1/queues/:id/items/:itemId/reset': { path: itemPath('/reset') },
  'GET /api/v1/queues/:id/items/:itemId/history': { path: itemPath('/history') },
};

/** Where seeing another workspace is the endpoint's job: the owner lists every workspace. */
function allowedForeignData(f: TenancyFixture, who: PrincipalName, rowKey: string): Set<string> {
  if (who === 'owner' && rowKey === 'GET /api/v1/workspaces') return new Set([f.home.workspaceId, f.home.name, f.other.workspaceId, f.other.name]);
  return new Set();
}

// ─── One helper per concern ─────────────────────────────────────────────────────────────────────

interface Request {
  method: string;
  path: string;
  body?: unknown;
}

function send(client: ApiClient, req: Request): Promise<HttpResult> {
  const body = req.body === undefined ? undefined : JSON.stringify(req.body);
  return client.raw(req.method, req.path, body, body === undefined ? {} : { 'content-type': 'application/json' });
}

const REFUSAL_CODES: Partial<Record<number, string>> = { 401: 'UNAUTHENTICATED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };
const isRefusal = (status: number) => status in REFUSAL_CODES;
const ERROR_CODES: Partial<Record<number, string>> = { 400: 'VALIDATION', ...REFUSAL_CODES };

/** What a call may be expected to answer: a matrix cell, or (outside the matrix) a 400 or an empty list. */
type Outcome = Expectation | '400' | 'empty';

/** The answer is the expected one. */
function expectOutcome(res: HttpResult, expected: Outcome, what: string): void {
  const answer = `${what} answered ${res.status} ${JSON.stringify(res.body)}`.slice(0, 2000);
  if (expected === 'ok') {
    expect(!isRefusal(res.status) && res.status < 500, answer).toBe(true);
  } else if (expected === 'e404') {
    expect(res.status, answer).toBe(200);
    expect(res.body.added, answer).toEqual([]);
    expect(res.body.errors.length, answer).toBeGreaterThan(0);
    expect(
      res.body.errors.every((e: { code: string }) => e.code === 'NOT_FOUND'),
      answer,
    ).toBe(true);
  } else if (expected === 'empty') {
    expect(res.status, answer).toBe(200);
    expect(res.body.data, answer).toEqual([]);
  } else {
    const status = Number(expected);
    expect(res.status, answer).toBe(status);
    if (ERROR_CODES[status]) expect(res.body?.error?.code, answer).toBe(ERROR_CODES[status]);
    // The router's own 404 (a path that matches no endpoint) would pass for "not found" while testing nothing.
    if (status === 404) expect(String(res.body.error.message), answer).not.toMatch(/^No route for/);
  }
}

/** No id or value of a workspace other than the caller's own is in the answer (what the caller sent aside). */
function expectNoForeignData(f: TenancyFixture, who: PrincipalName, req: Request, res: HttpResult, allowed?: Set<string>): void {
  const sent = `${req.path} ${JSON.stringify(req.body ?? null)}`;
  const leaked = foreignDataIn(f, who, sent, JSON.stringify(res.body ?? null), allowed);
  expect(leaked, `${req.method} ${req.path} as ${who} carries another workspace's ids or values`).toEqual([]);
}

/** One cell: the call, its outcome, no foreign data in the answer, and no effect when refused. */
async function runCell(f: TenancyFixture, row: MatrixRow, who: PrincipalName): Promise<void> {
  const call = CALLS[row.key]!;
  const target = call.fresh ? await call.fresh(f) : {};
  const req = { method: row.method, path: call.path(f, target), body: call.body?.(f, target) };
  const res = await send(f.callers[who], req);
  expectOutcome(res, row.expect[who], `${row.key} as ${who}`);
  expectNoForeignData(f, who, req, res, allowedForeignData(f, who, row.key));
  if (isRefusal(res.status)) await call.intact?.(f, target);
}

// ─── The tests ──────────────────────────────────────────────────────────────────────────────────

describe('tenancy and permission matrix', () => {
  let system: TestSystem;
  let f: TenancyFixture;
  beforeAll(async () => {
    system = await startTestSystem();
    f = await createTenancyFixture(system);
  });
  afterAll(async () => system?.close());

  describe('the matrix itself', () => {
    it('has a row for every endpoint the API declares, and none for an endpoint that is gone', () => {
      const declared = allEndpoints({ db: system.db, repos: system.repos, temporal: system.temporal }).map((e) => `${e.method.toUpperCase()} ${e.path}`);
      const rows = new Set(ROWS.map((r) => r.endpoint));
      expect(
        declared.filter((e) => !rows.has(e)),
        'endpoints without a row in MATRIX: add one (and a CALLS entry)',
      ).toEqual([]);
      expect(
        [...rows].filter((r) => !declared.includes(r)),
        'rows for endpoints that no longer exist',
      ).toEqual([]);
    });

    it('knows how to call every row, and has no call without a row', () => {
      expect(ROWS.filter((r) => !CALLS[r.key]).map((r) => r.key)).toEqual([]);
      expect(Object.keys(CALLS).filter((k) => !ROWS.some((r) => r.key === k))).toEqual([]);
      expect(new Set(ROWS.map((r) => r.key)).size).toBe(ROWS.length);
    });

    it('expects 401 without a key or with a revoked one exactly where the endpoint is authenticated', () => {
      const endpoints = allEndpoints({ db: system.db, repos: system.repos, temporal: system.temporal });
      for (const row of ROWS) {
        const declared = endpoints.find((e) => `${e.method.toUpperCase()} ${e.path}` === row.endpoint)!;
        const anonymous = declared.authenticated === false ? '200' : '401';
        expect([row.expect.none, row.expect.revoked], row.key).toEqual([anonymous, anonymous]);
      }
    });

    it('lets someone through on every row, so a call that reaches no endpoint cannot pass as refused everywhere', () => {
      expect(ROWS.filter((r) => PRINCIPALS.every((p) => isRefusal(Number(r.expect[p])) || r.expect[p] === 'e404')).map((r) => r.key)).toEqual([]);
    });
  });

  for (const row of ROWS) {
    describe(row.key, () => {
      for (const who of PRINCIPALS) {
        const violation = KNOWN_VIOLATIONS[`${row.key} as ${who}`];
        const cell = violation ? it.fails : it;
        cell(`${who} → ${row.expect[who]}${violation ? ` (known violation: ${violation})` : ''}`, () => runCell(f, row, who));
      }
    });
  }

  /**
   * The queue of the path decides which items exist: an item of another workspace, named through a
   * queue of the caller's own (where the caller holds the row's role), is a 404, both ways round.
   */
  describe("another workspace's item through a queue of the caller's own", () => {
    const ROLE_COLUMNS = ['admin', 'annotator', 'reviewer', 'manager'] as const;
    const fill = (path: string, queueId: string, itemId: string) => path.replace(/:id\b/, queueId).replace(/:itemId\b/, itemId);
    for (const row of ROWS.filter((r) => r.path.includes(':itemId'))) {
      it(`${row.key} → 404`, async () => {
        const role = ROLE_COLUMNS.find((c) => !isRefusal(Number(row.expect[c])))!;
        for (const [mine, theirs, who] of [
          [f.other, f.home, 'other'],
          [f.home, f.other, role],
        ] as const) {
          const caller = role === 'admin' ? mine.setup : mine.people[role].api;
          const req = { method: row.method, path: fill(row.path, mine.queueId, theirs.itemId), body: CALLS[row.key]!.body?.(f, {}) };
          const res = await send(caller, req);
          expectOutcome(res, '404', `${row.key} as the ${role} of the ${mine === f.other ? 'other' : 'home'} workspace`);
          expectNoForeignData(f, who, req, res);
        }
      });
    }
  });

  /**
   * Another workspace's ids in a body or a query (not the path), as the other workspace's admin on
   * its own resources: refused as unknown (a 400 writes nothing, DESIGN.md §5), or matching nothing.
   */
  describe("another workspace's ids in a request body", () => {
    const REFERENCES: { what: string; req: (f: TenancyFixture) => Request; expected: Outcome }[] = [
      {
        what: "a key for the home workspace's member",
        req: (f) => ({ method: 'POST', path: '/api/v1/api-keys', body: { userId: f.home.memberId, name: 'stolen' } }),
        expected: '400',
      },
      {
        what: "the home annotator as a member of the caller's queue",
        req: (f) => ({
          method: 'PATCH',
          path: `/api/v1/queues/${f.other.queueId}`,
          body: { members: [{ userId: f.home.people.annotator.id, roles: ['annotator'] }] },
        }),
        expected: '400',
      },
      {
        what: "the home label on the caller's new queue",
        req: (f) => ({ method: 'POST', path: '/api/v1/queues', body: { name: `stolen-${uid()}`, labels: [{ label: f.home.labelId, required: true }] } }),
        expected: '400',
      },
      {
        what: "the home source as an item of the caller's queue",
        req: (f) => ({
          method: 'POST',
          path: `/api/v1/queues/${f.other.queueId}/items`,
          body: { items: [{ sourceType: 'trace', sourceId: f.home.itemSourceId }] },
        }),
        expected: 'e404',
      },
      {
        what: "the home annotator pinned to the caller's item",
        req: (f) => ({
          method: 'POST',
          path: `/api/v1/queues/${f.other.queueId}/items/assign`,
          body: { itemIds: [f.other.itemId], userIds: [f.home.people.annotator.id], action: 'add' },
        }),
        expected: '400',
      },
      {
        what: "a score on the home source with the caller's own label",
        req: (f) => ({ method: 'POST', path: '/api/v1/scores', body: { sourceType: 'trace', sourceId: f.home.traceSourceId, label: 'rating', value: 'good' } }),
        expected: '404',
      },
      {
        what: "the home queue's scores",
        req: (f) => ({ method: 'GET', path: `/api/v1/scores?queueId=${f.home.queueId}` }),
        expected: 'empty',
      },
      {
        what: "the home annotator's scores",
        req: (f) => ({ method: 'GET', path: `/api/v1/scores?annotatorId=${f.home.people.annotator.id}` }),
        expected: 'empty',
      },
      {
        what: "the home source's scores",
        req: (f) => ({ method: 'GET', path: `/api/v1/scores?sourceType=trace&sourceId=${f.home.traceSourceId}` }),
        expected: 'empty',
      },
    ];
    for (const { what, req, expected } of REFERENCES) {
      it(`${what} → ${expected}`, async () => {
        const request = req(f);
        const res = await send(f.callers.other, request);
        expectOutcome(res, expected, what);
        expectNoForeignData(f, 'other', request, res);
      });
    }
  });

  describe('the blind rule on every read that returns values', () => {
    let cast: BlindCast;
    const viewerApi = (viewer: Viewer): ApiClient =>
      (BLIND_PEOPLE as readonly string[]).includes(viewer) ? cast.people[viewer as (typeof BLIND_PEOPLE)[number]].api : f.callers[viewer as PrincipalName];
    beforeAll(async () => {
      cast = await createBlindCast(system, f.home);
    });

    /** Whether A's value is in each read of the item by the viewer. */
    async function readsOf(viewer: Viewer, item: BlindItem) {
      const api = viewerApi(viewer);
      const { itemId, sourceId } = cast.items[item];
      const secret = cast.secret[item];
      const contains = (value: unknown) => JSON.stringify(value ?? null).includes(secret);
      const detail = await api.get(cast.path(`/items/${itemId}`));
      const scoreReads = await Promise.all(
        [`?queueId=${cast.queueId}&limit=500`, `?sourceType=trace&sourceId=${sourceId}&limit=500`, '?limit=500'].map((q) => api.get(`/api/v1/scores${q}`)),
      );
      const valueFree = await Promise.all(['/progress', '/items?limit=500', `/items/${itemId}/history`].map((s) => api.get(cast.path(s))));
      for (const res of scoreReads) expect(res.status, JSON.stringify(res.body)).toBe(200);
      return {
        detailStatus: detail.status,
        inAnnotations: contains(detail.body?.annotations),
        inDetail: contains(detail.body),
        inScores: scoreReads.map((res) => contains(res.body)),
        inValueFree: valueFree.map((res) => contains(res.body)),
      };
    }

    for (const phase of PHASES) {
      describe(phase, () => {
        if (phase === 'review') beforeAll(() => moveToReview(cast, f.home.setup));
        if (phase === 'completed') beforeAll(() => moveToCompleted(cast, f.home.setup));

        for (const { viewer, cells } of BLIND_ROWS) {
          for (const { item, seen } of cells.filter((c) => c.phase === phase)) {
            it(`${viewer} on ${item} → ${seen}`, async () => {
              const r = await readsOf(viewer, item);
              const visible = seen === 'sees' || seen === 'scores';
              expect(r.detailStatus, 'GET …/items/:itemId').toBe(seen === 'sees' || seen === 'blind' ? 200 : 404);
              expect(r.inAnnotations, "A's value in the item's annotations").toBe(seen === 'sees');
              expect(r.inDetail, "A's value anywhere in the item").toBe(seen === 'sees');
              expect(r.inScores, "A's value in GET /scores by queue, by source, unfiltered").toEqual([visible, visible, visible]);
              expect(r.inValueFree, "A's value in progress, item list, timeline").toEqual([false, false, false]);
            });
          }
        }

        if (phase === 'open') {
          it("gave B and MA, reserving their seats, an item detail without A's value", () => {
            expect(JSON.stringify(cast.reserveAnswers[0]!.body)).not.toContain(cast.secret.X);
            expect(JSON.stringify(cast.reserveAnswers[1]!.body)).not.toContain(cast.secret.Y);
          });
          it('gives C nothing to annotate (both items are full) and R nothing to review yet', async () => {
            const next = await cast.people.C.api.post(cast.path('/next'));
            const review = await cast.people.R.api.post(cast.path('/next?mode=review'));
            expect([next.status, review.status]).toEqual([204, 204]);
          });
        }
        if (phase === 'review') {
          it("gives R each item to review with A's value", async () => {
            const review = await cast.people.R.api.post(cast.path('/next?mode=review'));
            expect(review.status, JSON.stringify(review.body)).toBe(200);
            const item = review.body.item.id === cast.items.X.itemId ? 'X' : 'Y';
            expect(JSON.stringify(review.body.annotations)).toContain(cast.secret[item]);
          });
        }
      });
    }
  });
});
