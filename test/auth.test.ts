import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, createWorkspaceFixture, startTestSystem, type HttpResult, type TestSystem } from './helpers/system.js';

const uid = () => randomUUID().slice(0, 8);

function expectError(res: HttpResult, status: number, code: string, message?: RegExp): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  if (message) expect(res.body.error.message).toMatch(message);
}

async function count(system: TestSystem, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const [row] = await system.db(table).where(where).count<{ count: number }[]>({ count: '*' });
  return Number(row!.count);
}

describe('authentication', () => {
  let system: TestSystem;
  let ws: Awaited<ReturnType<typeof createWorkspaceFixture>>;
  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
  });
  afterAll(async () => system?.close());

  it('refuses a call without an Authorization header with 401 UNAUTHENTICATED', async () => {
    const res = await apiClient(system.url, undefined).get('/api/v1/labels');
    expectError(res, 401, 'UNAUTHENTICATED', /Missing Authorization header/);
  });

  it.each([
    ['Basic x', 'Basic credentials'],
    ['Bearer', 'the scheme alone'],
    ['Bearer a b', 'two tokens'],
    ['Token abc', 'another scheme'],
  ])('refuses a malformed Authorization header (%s: %s) with 401 UNAUTHENTICATED', async (header) => {
    const res = await apiClient(system.url, undefined).raw('GET', '/api/v1/labels', undefined, { authorization: header });
    expectError(res, 401, 'UNAUTHENTICATED', /Malformed Authorization header/);
  });

  it('refuses an unknown key with 401 UNAUTHENTICATED', async () => {
    const res = await system.as(`qk_${randomUUID()}`).get('/api/v1/labels');
    expectError(res, 401, 'UNAUTHENTICATED', /Invalid or revoked API key/);
  });

  it('refuses a write with an unknown key with 401, and writes nothing', async () => {
    const before = await count(system, 'labels');
    const res = await system.as('qk_nope').post('/api/v1/labels', { key: `x-${uid()}`, name: 'X', type: 'thumbs' });
    expectError(res, 401, 'UNAUTHENTICATED');
    expect(await count(system, 'labels')).toBe(before);
  });

  it('refuses a revoked key on the very next call', async () => {
    const created = await ws.admin.post('/api/v1/api-keys', { name: `svc-${uid()}` });
    expect(created.status).toBe(201);
    const client = system.as(created.body.key);
    expect((await client.get('/api/v1/labels')).status).toBe(200);

    const revoked = await ws.admin.delete(`/api/v1/api-keys/${created.body.id}`);
    expect(revoked.status).toBe(204);
    expectError(await client.get('/api/v1/labels'), 401, 'UNAUTHENTICATED', /Invalid or revoked/);

    const row = await system.db('api_keys').where({ id: created.body.id }).first();
    expect(row.revoked_at).toBeInstanceOf(Date);
    const listed = await ws.admin.get('/api/v1/api-keys?limit=500');
    const entry = listed.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(entry.revokedAt).toEqual(expect.any(String));
  });

  it('stores keys hashed: no api_keys row contains a plain key, and the SHA-256 of each key is stored', async () => {
    const service = await ws.admin.post('/api/v1/api-keys', { name: `svc-${uid()}`, role: 'admin' });
    expect(service.status).toBe(201);
    const keys = [system.ownerKey, ws.adminKey, ws.memberKey, service.body.key as string];
    for (const key of keys) {
      expect(key.length).toBeGreaterThan(20);
      // Row-to-text covers every column (bytea as hex), whatever its name.
      const { rows: containing } = await system.db.raw(`select count(*)::int as n from api_keys k where position(? in k::text) > 0`, [key]);
      expect(containing[0].n).toBe(0);
      const hex = createHash('sha256').update(key).digest('hex');
      const { rows: hashed } = await system.db.raw(`select count(*)::int as n from api_keys where encode(secret_hash, 'hex') = ?`, [hex]);
      expect(hashed[0].n).toBe(1);
    }
    const listed = await ws.admin.get('/api/v1/api-keys?limit=500');
    expect(listed.status).toBe(200);
    const text = JSON.stringify(listed.body);
    for (const key of keys) expect(text).not.toContain(key);
  });
});

describe('roles', () => {
  let system: TestSystem;
  let ws: Awaited<ReturnType<typeof createWorkspaceFixture>>;
  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
  });
  afterAll(async () => system?.close());

  it('lets the owner create a workspace with an admin key that works only in that workspace', async () => {
    const name = `ws-${uid()}`;
    const res = await system.as(system.ownerKey).post('/api/v1/workspaces', { name, admin: { email: `a-${uid()}@example.com`, name: 'Ada' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ workspace: { id: expect.any(String), name }, admin: { id: expect.any(String) }, apiKey: expect.any(String) });
    const admin = system.as(res.body.apiKey);
    const listed = await admin.get('/api/v1/workspaces');
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((w: { id: string }) => w.id)).toEqual([res.body.workspace.id]);
    const user = await admin.post('/api/v1/users', { email: `u-${uid()}@example.com`, name: 'U', role: 'member' });
    expect(user.status).toBe(201);
    const row = await system.db('principals').where({ id: user.body.id }).first();
    expect(row.workspace_id).toBe(res.body.workspace.id);
  });

  it('forbids workspace creation to everyone but the owner, and writes nothing', async () => {
    // An admin of the owner's own workspace is still not the owner.
    const ownerWsAdmin = await system.as(system.ownerKey).post('/api/v1/api-keys', { name: `ow-admin-${uid()}`, role: 'admin' });
    expect(ownerWsAdmin.status).toBe(201);
    const before = await count(system, 'workspaces');
    for (const key of [ws.adminKey, ws.memberKey, ownerWsAdmin.body.key as string]) {
      const res = await system.as(key).post('/api/v1/workspaces', { name: `nope-${uid()}` });
      expectError(res, 403, 'FORBIDDEN', /owner/);
    }
    expect(await count(system, 'workspaces')).toBe(before);
  });

  it('forbids a member to create users or keys, and writes nothing', async () => {
    const principals = await count(system, 'principals', { workspace_id: ws.workspaceId });
    const keys = await count(system, 'api_keys', { workspace_id: ws.workspaceId });
    expectError(await ws.member.post('/api/v1/users', { email: `x-${uid()}@example.com`, name: 'X', role: 'admin' }), 403, 'FORBIDDEN');
    expectError(await ws.member.post('/api/v1/api-keys', { name: 'mine', role: 'admin' }), 403, 'FORBIDDEN');
    expectError(await ws.member.post('/api/v1/api-keys', { name: 'mine', userId: ws.memberId }), 403, 'FORBIDDEN');
    expectError(await ws.member.get('/api/v1/api-keys'), 403, 'FORBIDDEN');
    expect(await count(system, 'principals', { workspace_id: ws.workspaceId })).toBe(principals);
    expect(await count(system, 'api_keys', { workspace_id: ws.workspaceId })).toBe(keys);
  });

  it('forbids a member to revoke a key, which keeps working', async () => {
    const keys = await ws.admin.get('/api/v1/api-keys?limit=500');
    const adminKeyRow = keys.body.data.find((k: { principalId: string }) => k.principalId === ws.adminId);
    expectError(await ws.member.delete(`/api/v1/api-keys/${adminKeyRow.id}`), 403, 'FORBIDDEN');
    expect((await ws.admin.get('/api/v1/labels')).status).toBe(200);
  });

  it('lets an admin create a service key without userId, with the role asked for (member by default)', async () => {
    const adminSvc = await ws.admin.post('/api/v1/api-keys', { name: `svc-admin-${uid()}`, role: 'admin' });
    expect(adminSvc.status).toBe(201);
    expect(adminSvc.body).toEqual({
      id: expect.any(String),
      name: expect.stringMatching(/^svc-admin-/),
      userId: null,
      principalId: expect.any(String),
      key: expect.any(String),
    });
    const principal = await system.db('principals').where({ id: adminSvc.body.principalId }).first();
    expect(principal).toMatchObject({ workspace_id: ws.workspaceId, kind: 'service', role: 'admin', is_owner: false });
    // The service admin key has admin rights.
    expect((await system.as(adminSvc.body.key).post('/api/v1/users', { email: `s-${uid()}@example.com`, name: 'S', role: 'member' })).status).toBe(201);

    const memberSvc = await ws.admin.post('/api/v1/api-keys', { name: `svc-member-${uid()}` });
    expect(memberSvc.status).toBe(201);
    expect(memberSvc.body.userId).toBeNull();
    expect(memberSvc.body.principalId).not.toBe(adminSvc.body.principalId);
    const memberPrincipal = await system.db('principals').where({ id: memberSvc.body.principalId }).first();
    expect(memberPrincipal).toMatchObject({ kind: 'service', role: 'member' });
    expectError(await system.as(memberSvc.body.key).post('/api/v1/users', { email: `t-${uid()}@example.com`, name: 'T', role: 'member' }), 403, 'FORBIDDEN');
  });

  it('lets an admin create a key for a user, which acts as that user', async () => {
    const user = await ws.admin.post('/api/v1/users', { email: `k-${uid()}@example.com`, name: 'K', role: 'member' });
    expect(user.status).toBe(201);
    const principalsBefore = await count(system, 'principals', { workspace_id: ws.workspaceId });
    const key = await ws.admin.post('/api/v1/api-keys', { name: 'laptop', userId: user.body.id });
    expect(key.status).toBe(201);
    expect(key.body).toEqual({ id: expect.any(String), name: 'laptop', userId: user.body.id, principalId: user.body.id, key: expect.any(String) });
    // No new principal: the key belongs to the user.
    expect(await count(system, 'principals', { workspace_id: ws.workspaceId })).toBe(principalsBefore);

    // Scores written with the key are the user's.
    const labelKey = `t-${uid()}`;
    expect((await ws.admin.post('/api/v1/labels', { key: labelKey, name: labelKey, type: 'thumbs' })).status).toBe(201);
    const sourceId = `tr-${uid()}`;
    expect((await ws.admin.post('/api/v1/sources', [{ type: 'trace', id: sourceId }])).status).toBe(200);
    const score = await system.as(key.body.key).post('/api/v1/scores', { sourceType: 'trace', sourceId, label: labelKey, value: true });
    expect(score.status).toBe(201);
    expect(score.body).toMatchObject({ annotatorId: user.body.id, principalId: user.body.id, scoreSource: 'human' });
  });

  it('refuses role together with userId with 400 naming role, and writes nothing', async () => {
    const keys = await count(system, 'api_keys', { workspace_id: ws.workspaceId });
    const res = await ws.admin.post('/api/v1/api-keys', { name: 'both', userId: ws.memberId, role: 'admin' });
    expectError(res, 400, 'VALIDATION', /role/);
    expect(await count(system, 'api_keys', { workspace_id: ws.workspaceId })).toBe(keys);
  });

  it('refuses a key for a user that is not in the workspace, and writes nothing', async () => {
    const keys = await count(system, 'api_keys');
    const res = await ws.admin.post('/api/v1/api-keys', { name: 'ghost', userId: randomUUID() });
    expectError(res, 400, 'VALIDATION', /userId/);
    expect(await count(system, 'api_keys')).toBe(keys);
  });

  it('refuses a duplicate user email in a workspace with 409 CONFLICT (case-insensitively), but allows it in another workspace', async () => {
    const email = `dup-${uid()}@example.com`;
    expect((await ws.admin.post('/api/v1/users', { email, name: 'First', role: 'member' })).status).toBe(201);
    const principals = await count(system, 'principals', { workspace_id: ws.workspaceId });
    expectError(await ws.admin.post('/api/v1/users', { email, name: 'Second', role: 'admin' }), 409, 'CONFLICT', new RegExp(email));
    expectError(await ws.admin.post('/api/v1/users', { email: email.toUpperCase(), name: 'Third', role: 'member' }), 409, 'CONFLICT');
    expect(await count(system, 'principals', { workspace_id: ws.workspaceId })).toBe(principals);

    const other = await createWorkspaceFixture(system);
    expect((await other.admin.post('/api/v1/users', { email, name: 'Elsewhere', role: 'member' })).status).toBe(201);
  });
});

describe('workspace isolation', () => {
  let system: TestSystem;
  let a: Awaited<ReturnType<typeof createWorkspaceFixture>>;
  let b: Awaited<ReturnType<typeof createWorkspaceFixture>>;
  const labelKey = `quality-${uid()}`;
  const sourceId = `trace-${uid()}`;
  let labelA: any;
  let scoreA: any;
  let sourceA: any;
  let memberKeyIdA: string;
  let memberUserIdA: string;

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    a = await createWorkspaceFixture(system);
    b = await createWorkspaceFixture(system);
    memberUserIdA = a.memberId;

    const label = await a.admin.post('/api/v1/labels', { key: labelKey, name: 'Quality', type: 'categorical', settings: { options: ['good', 'bad'] } });
    expect(label.status).toBe(201);
    labelA = label.body;
    const sources = await a.admin.post('/api/v1/sources', [{ type: 'trace', id: sourceId, input: 'question A', output: 'answer A' }]);
    expect(sources.body.added).toHaveLength(1);
    sourceA = (await a.admin.get(`/api/v1/sources/trace/${sourceId}`)).body;
    const score = await a.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: labelKey, value: 'good' });
    expect(score.status).toBe(201);
    scoreA = score.body;
    const keys = await a.admin.get('/api/v1/api-keys?limit=500');
    memberKeyIdA = keys.body.data.find((k: { userId: string | null }) => k.userId === a.memberId).id;

    // B has a label with the same key, so a score on A's source fails on the source, not the label.
    expect((await b.admin.post('/api/v1/labels', { key: labelKey, name: 'Quality', type: 'categorical', settings: { options: ['good', 'bad'] } })).status).toBe(
      201,
    );
  });
  afterAll(async () => system?.close());

  it("answers 404 (not 403) for A's label, by id, to B", async () => {
    expectError(await b.admin.get(`/api/v1/labels/${labelA.id}`), 404, 'NOT_FOUND');
    expectError(await b.member.get(`/api/v1/labels/${labelA.id}`), 404, 'NOT_FOUND');
    // By key, B sees its own label, never A's.
    const own = await b.admin.get(`/api/v1/labels/${labelKey}`);
    expect(own.status).toBe(200);
    expect(own.body.id).not.toBe(labelA.id);
  });

  it("answers 404 when B changes or archives A's label, which stays as it was", async () => {
    expectError(await b.admin.patch(`/api/v1/labels/${labelA.id}`, { name: 'Hijacked' }), 404, 'NOT_FOUND');
    expectError(await b.admin.delete(`/api/v1/labels/${labelA.id}`), 404, 'NOT_FOUND');
    const row = await system.db('labels').where({ id: labelA.id }).first();
    expect(row).toMatchObject({ name: 'Quality', archived_at: null, workspace_id: a.workspaceId });
  });

  it("lists none of A's labels, scores, users, keys or workspace to B", async () => {
    const labels = await b.admin.get('/api/v1/labels?limit=500');
    expect(labels.status).toBe(200);
    expect(labels.body.data.map((l: { id: string }) => l.id)).not.toContain(labelA.id);

    const scores = await b.admin.get('/api/v1/scores?limit=500');
    expect(scores.status).toBe(200);
    expect(scores.body.data).toEqual([]);
    expect((await b.admin.get(`/api/v1/scores?sourceType=trace&sourceId=${sourceId}`)).body).toEqual({ data: [], nextCursor: null });
    expect((await b.admin.get(`/api/v1/scores?label=${labelA.id}`)).body).toEqual({ data: [], nextCursor: null });
    expect((await b.admin.get(`/api/v1/scores?annotatorId=${a.memberId}`)).body).toEqual({ data: [], nextCursor: null });

    const users = await b.admin.get('/api/v1/users?limit=500');
    expect(users.body.data.map((u: { id: string }) => u.id)).not.toContain(a.memberId);
    const keys = await b.admin.get('/api/v1/api-keys?limit=500');
    expect(keys.body.data.map((k: { id: string }) => k.id)).not.toContain(memberKeyIdA);
    const workspaces = await b.admin.get('/api/v1/workspaces');
    expect(workspaces.body.data.map((w: { id: string }) => w.id)).toEqual([b.workspaceId]);
  });

  it("answers 404 when B reads A's source", async () => {
    expectError(await b.admin.get(`/api/v1/sources/trace/${sourceId}`), 404, 'NOT_FOUND');
  });

  it("answers 404 when B scores A's source or uses A's label, and writes nothing", async () => {
    const before = await count(system, 'scores');
    expectError(await b.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: labelKey, value: 'bad' }), 404, 'NOT_FOUND', /Source/);
    expectError(await b.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: labelA.id, value: 'bad' }), 404, 'NOT_FOUND', /Label/);
    const bulk = await b.member.post('/api/v1/scores/bulk', [{ sourceType: 'trace', sourceId, label: labelKey, value: 'bad' }]);
    expect(bulk.status).toBe(200);
    expect(bulk.body).toMatchObject({ added: [], errors: [{ index: 0, code: 'NOT_FOUND' }] });
    expect(await count(system, 'scores')).toBe(before);
  });

  it("answers 404 when B deletes A's score, which stays", async () => {
    expectError(await b.admin.delete(`/api/v1/scores/${scoreA.id}`), 404, 'NOT_FOUND');
    const row = await system.db('scores').where({ id: scoreA.id }).first();
    expect(row.deleted_at).toBeNull();
  });

  it("answers 404 when B revokes A's key, which keeps working", async () => {
    expectError(await b.admin.delete(`/api/v1/api-keys/${memberKeyIdA}`), 404, 'NOT_FOUND');
    const row = await system.db('api_keys').where({ id: memberKeyIdA }).first();
    expect(row.revoked_at).toBeNull();
    expect((await a.member.get('/api/v1/labels')).status).toBe(200);
  });

  it("answers B's key request for A's user exactly as for a user that does not exist", async () => {
    const keys = await count(system, 'api_keys');
    const forA = await b.admin.post('/api/v1/api-keys', { name: 'steal', userId: memberUserIdA });
    const forNobody = await b.admin.post('/api/v1/api-keys', { name: 'steal', userId: randomUUID() });
    expect(forA.status).toBe(forNobody.status);
    expect(forA.status).toBeGreaterThanOrEqual(400);
    expect(forA.body.error.code).toBe(forNobody.body.error.code);
    expect(await count(system, 'api_keys')).toBe(keys);
  });

  it("keeps A's source when B ingests a source with the same type and id", async () => {
    const res = await b.admin.post('/api/v1/sources', [{ type: 'trace', id: sourceId, input: 'question B', output: 'answer B' }]);
    expect(res.status).toBe(200);
    expect(res.body.added).toEqual([{ index: 0, type: 'trace', id: sourceId }]);
    expect((await b.admin.get(`/api/v1/sources/trace/${sourceId}`)).body.input).toBe('question B');
    expect((await a.admin.get(`/api/v1/sources/trace/${sourceId}`)).body.input).toBe('question A');
  });

  it("leaves A's data unchanged after all of B's attempts", async () => {
    const label = await a.admin.get(`/api/v1/labels/${labelA.id}`);
    expect(label.status).toBe(200);
    expect(label.body).toEqual(labelA);
    const source = await a.admin.get(`/api/v1/sources/trace/${sourceId}`);
    expect(source.body).toEqual(sourceA);
    const scores = await a.admin.get(`/api/v1/scores?sourceType=trace&sourceId=${sourceId}`);
    expect(scores.body).toEqual({ data: [scoreA], nextCursor: null });
    expect((await a.member.get('/api/v1/labels')).status).toBe(200);
  });
});
