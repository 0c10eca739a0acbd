import { format } from 'node:util';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { allEndpoints, createApp } from '../api/app.js';
import type { AppDeps } from '../app/deps.js';
import { createDb } from '../infra/db.js';
import { createRepos } from '../infra/repositories/index.js';
import { createTemporal } from '../infra/temporal.js';
import { apiClient, createWorkspaceFixture, startTestSystem, type HttpResult, type TestSystem } from './helpers/system.js';

const uid = () => randomUUID().slice(0, 8);
type Fixture = Awaited<ReturnType<typeof createWorkspaceFixture>>;
const MB = 1024 * 1024;

function expectError(res: HttpResult, status: number, code: string, message?: RegExp): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  if (message) expect(res.body.error.message).toMatch(message);
}

/** No stack frames, file paths or driver internals in what the client sees. */
function expectNoInternals(res: HttpResult): void {
  const text = JSON.stringify(res.body);
  expect(text).not.toMatch(/\bat .+\(|\.ts:\d+|\.js:\d+|node_modules|stack/i);
  expect(Object.keys(res.body)).toEqual(['error']);
}

async function listen(deps: AppDeps): Promise<{ url: string; close: () => Promise<void> }> {
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('bad input', () => {
  let system: TestSystem;
  let ws: Fixture;

  const count = async (table: string) => {
    const [row] = await system.db(table).where({ workspace_id: ws.workspaceId }).count<{ count: number }[]>({ count: '*' });
    return Number(row!.count);
  };
  /** Runs `act` and checks that none of the tables gained or lost a row of the workspace. */
  const nothingWritten = async (act: () => Promise<void>) => {
    const tables = ['labels', 'sources', 'scores', 'principals', 'api_keys'];
    const before = await Promise.all(tables.map(count));
    await act();
    expect(await Promise.all(tables.map(count))).toEqual(before);
  };

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
  });
  afterAll(async () => system?.close());

  it('answers malformed JSON with 400 VALIDATION saying so, and writes nothing', async () => {
    await nothingWritten(async () => {
      const res = await ws.admin.raw('POST', '/api/v1/labels', '{"name": "Quality", "type": ', { 'content-type': 'application/json' });
      expectError(res, 400, 'VALIDATION', /Malformed JSON/);
      expectNoInternals(res);
      const batch = await ws.admin.raw('POST', '/api/v1/sources', '[{"type": "trace", "id": "x"},', { 'content-type': 'application/json' });
      expectError(batch, 400, 'VALIDATION', /Malformed JSON/);
      // JSON that is not an object or array is refused too.
      expectError(await ws.admin.raw('POST', '/api/v1/labels', '"thumbs"', { 'content-type': 'application/json' }), 400, 'VALIDATION');
    });
  });

  it('refuses a body that is not sent as application/json with 400, and writes nothing', async () => {
    const body = JSON.stringify({ key: `k-${uid()}`, name: 'Quality', type: 'thumbs' });
    await nothingWritten(async () => {
      expectError(await ws.admin.raw('POST', '/api/v1/labels', body), 400, 'VALIDATION', /application\/json/);
      expectError(await ws.admin.raw('POST', '/api/v1/labels', body, { 'content-type': 'text/plain' }), 400, 'VALIDATION', /application\/json/);
      expectError(
        await ws.admin.raw('POST', '/api/v1/sources', JSON.stringify([{ type: 'trace', id: `t-${uid()}` }]), {
          'content-type': 'application/x-www-form-urlencoded',
        }),
        400,
        'VALIDATION',
      );
      expectError(await ws.admin.raw('POST', '/api/v1/labels', undefined), 400, 'VALIDATION', /application\/json/);
    });
  });

  it("refuses unknown fields on Quorum's own routes with 400 naming the field, and writes nothing", async () => {
    await nothingWritten(async () => {
      const label = await ws.admin.post('/api/v1/labels', { key: `k-${uid()}`, name: 'Quality', type: 'thumbs', colour: 1 });
      expectError(label, 400, 'VALIDATION', /"colour"/);
      expectError(
        await ws.admin.post('/api/v1/users', { email: `u-${uid()}@example.com`, name: 'U', role: 'member', nickname: 'x' }),
        400,
        'VALIDATION',
        /nickname/,
      );
      expectError(await ws.admin.post('/api/v1/api-keys', { name: 'k', scopes: ['all'] }), 400, 'VALIDATION', /scopes/);
      expectError(
        await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: 'x', label: 'y', value: true, weight: 2 }),
        400,
        'VALIDATION',
        /weight/,
      );
      expectError(
        await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: 'x', label: 'y', value: true, metadata: { identityId: 'u', mood: 'ok' } }),
        400,
        'VALIDATION',
        /mood/,
      );
      expectError(await ws.admin.get('/api/v1/labels?colour=1'), 400, 'VALIDATION', /colour/);
    });
  });

  it('refuses wrong types with 400 naming the field, and writes nothing', async () => {
    await nothingWritten(async () => {
      expectError(await ws.admin.post('/api/v1/labels', { key: `k-${uid()}`, name: 123, type: 'thumbs' }), 400, 'VALIDATION', /name/);
      expectError(await ws.admin.post('/api/v1/labels', { key: `k-${uid()}`, name: 'Q', type: 'slider' }), 400, 'VALIDATION', /type/);
      expectError(await ws.admin.post('/api/v1/labels', { key: `k-${uid()}`, name: 'Q', type: 'thumbs', allowNotes: 'yes' }), 400, 'VALIDATION', /allowNotes/);
      expectError(await ws.admin.post('/api/v1/labels', { key: 'Not A Slug', name: 'Q', type: 'thumbs' }), 400, 'VALIDATION', /key/);
      expectError(await ws.admin.post('/api/v1/users', { email: 'not-an-email', name: 'U', role: 'member' }), 400, 'VALIDATION', /email/);
      expectError(await ws.admin.post('/api/v1/users', { email: `u-${uid()}@example.com`, name: 'U', role: 'owner' }), 400, 'VALIDATION', /role/);
      expectError(await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: 'x', label: 'y', value: { up: true } }), 400, 'VALIDATION', /value/);
      expectError(await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: 7, label: 'y', value: true }), 400, 'VALIDATION', /sourceId/);
      expectError(
        await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: 'x', label: 'y', value: true, scoreSource: 'robot' }),
        400,
        'VALIDATION',
        /scoreSource/,
      );
      expectError(await ws.admin.post('/api/v1/workspaces', { name: ['x'] }), 400, 'VALIDATION', /name/);
      expectError(await ws.admin.get('/api/v1/labels?limit=abc'), 400, 'VALIDATION', /limit/);
    });
  });

  it('refuses a cursor that no list returned with 400 naming cursor (not a 500 from Postgres)', async () => {
    for (const path of ['/api/v1/scores', '/api/v1/labels', '/api/v1/users', '/api/v1/api-keys']) {
      const res = await ws.admin.get(`${path}?cursor=not-a-cursor`);
      expectError(res, 400, 'VALIDATION', /cursor/);
    }
  });

  it('refuses the NUL character, which Postgres cannot store, with 400 instead of a 500, and writes nothing', async () => {
    await nothingWritten(async () => {
      const label = await ws.admin.post('/api/v1/labels', { key: `k-${uid()}`, name: 'Bad\u0000name', type: 'thumbs' });
      expectError(label, 400, 'VALIDATION', /NUL/);
      expectNoInternals(label);
      expectError(await ws.admin.post('/api/v1/users', { email: `u-${uid()}@example.com`, name: 'A\u0000B', role: 'member' }), 400, 'VALIDATION', /NUL/);
      expectError(await ws.admin.get('/api/v1/sources/trace/x%00y'), 400, 'VALIDATION', /NUL/);
      expectError(await ws.admin.get('/api/v1/labels/x%00y'), 400, 'VALIDATION', /NUL/);
      expectError(await ws.admin.get('/api/v1/scores?annotatorId=x%00y'), 400, 'VALIDATION', /NUL/);
      expectError(await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: 'a\u0000b', label: 'x', value: true }), 400, 'VALIDATION', /NUL/);
    });
  });

  it('refuses a body over 1 MB on /api/v1/labels with 413 PAYLOAD_TOO_LARGE, and writes nothing', async () => {
    await nothingWritten(async () => {
      const res = await ws.admin.post('/api/v1/labels', { key: `big-${uid()}`, name: 'Big', type: 'thumbs', description: 'x'.repeat(MB + 1024) });
      expectError(res, 413, 'PAYLOAD_TOO_LARGE', /1 MB/);
      expectNoInternals(res);
    });
  });

  it('accepts a body between 1 MB and 16 MB on /api/v1/sources', async () => {
    const id = `big-${uid()}`;
    const output = 'y'.repeat(3 * MB);
    const before = await count('sources');
    const res = await ws.member.post('/api/v1/sources', [{ type: 'trace', id, input: 'short', output }]);
    expect(res.status).toBe(200);
    expect(res.body.added).toEqual([{ index: 0, type: 'trace', id }]);
    expect(await count('sources')).toBe(before + 1);
    const stored = await ws.member.get(`/api/v1/sources/trace/${id}`);
    expect(stored.body.output).toHaveLength(3 * MB);
  });

  it('accepts a body over 1 MB on /api/v1/scores/bulk', async () => {
    const svc = await ws.admin.post('/api/v1/api-keys', { name: `svc-${uid()}` });
    const key = `t-${uid()}`;
    expect((await ws.admin.post('/api/v1/labels', { key, name: key, type: 'thumbs' })).status).toBe(201);
    const sourceId = `trace-${uid()}`;
    await ws.admin.post('/api/v1/sources', [{ type: 'trace', id: sourceId }]);
    const entries = Array.from({ length: 300 }, (_, i) => ({
      sourceType: 'trace',
      sourceId,
      label: key,
      value: true,
      notes: 'n'.repeat(4000),
      metadata: { identityId: `u-${i}` },
    }));
    expect(JSON.stringify(entries).length).toBeGreaterThan(MB);
    const res = await system.as(svc.body.key).post('/api/v1/scores/bulk', entries);
    expect(res.status).toBe(200);
    expect(res.body.added).toHaveLength(300);
  });

  it('refuses a body over 16 MB on /api/v1/sources with 413, and writes nothing', async () => {
    await nothingWritten(async () => {
      const res = await ws.member.post('/api/v1/sources', [{ type: 'trace', id: `huge-${uid()}`, output: 'z'.repeat(16 * MB + 1024) }]);
      expectError(res, 413, 'PAYLOAD_TOO_LARGE', /16 MB/);
    });
  });

  it('answers an unknown route with 404 in the error envelope', async () => {
    expectError(await ws.admin.get('/api/v1/nope'), 404, 'NOT_FOUND', /GET \/api\/v1\/nope/);
    expectError(await ws.admin.post('/api/v1/labels/x/y/z', {}), 404, 'NOT_FOUND');
    expectError(await apiClient(system.url, undefined).get('/nothing-here'), 404, 'NOT_FOUND');
    // A known path with a method it does not serve.
    expectError(await ws.admin.raw('PUT', '/api/v1/labels', '{}', { 'content-type': 'application/json' }), 404, 'NOT_FOUND');
  });
});

describe('GET /api/v1/openapi.json', () => {
  let system: TestSystem;
  let doc: any;

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    const res = await apiClient(system.url, undefined).get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
  });
  afterAll(async () => system?.close());

  it('is an OpenAPI 3.1 document with info, security and paths', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.components.schemas.Error.required).toEqual(['error']);
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      expect(path.startsWith('/')).toBe(true);
      expect(path).not.toMatch(/:\w/);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries<any>(item)) {
        expect(['get', 'post', 'put', 'patch', 'delete']).toContain(method);
        expect(op.summary).toEqual(expect.any(String));
        expect(Object.keys(op.responses).length).toBeGreaterThan(0);
        const pathParams = op.parameters.filter((p: { in: string }) => p.in === 'path');
        expect(pathParams.map((p: { name: string }) => p.name).sort(), `${method} ${path}`).toEqual(templated);
        for (const p of pathParams) expect(p.required).toBe(true);
      }
    }
  });

  it('lists every route the API serves', () => {
    const endpoints = allEndpoints({ db: system.db, repos: system.repos, temporal: system.temporal });
    expect(endpoints.length).toBeGreaterThan(15);
    for (const e of endpoints) {
      const path = e.path.replace(/:(\w+)/g, '{$1}');
      expect(doc.paths[path]?.[e.method], `${e.method} ${path}`).toBeDefined();
      expect(doc.paths[path][e.method].responses[String(e.status)], `${e.method} ${path} ${e.status}`).toBeDefined();
    }
    for (const [path, method] of [
      ['/api/v1/workspaces', 'post'],
      ['/api/v1/users', 'post'],
      ['/api/v1/api-keys/{id}', 'delete'],
      ['/api/v1/labels', 'post'],
      ['/api/v1/labels/{idOrKey}', 'patch'],
      ['/api/v1/sources', 'post'],
      ['/api/v1/sources/{type}/{id}', 'get'],
      ['/api/v1/scores', 'get'],
      ['/api/v1/scores/bulk', 'post'],
      ['/api/v1/scores/{id}', 'delete'],
      ['/v2/traces/{traceId}/spans/{spanId}/annotation', 'post'],
      ['/v2/traces/{traceId}/spans/{spanId}/annotation', 'delete'],
      ['/readyz', 'get'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    }
    expect(doc.paths['/readyz'].get.security).toEqual([]);
  });

  it('has a request body schema for every route that takes a body, matching what the route enforces', () => {
    const endpoints = allEndpoints({ db: system.db, repos: system.repos, temporal: system.temporal });
    for (const e of endpoints.filter((x) => x.body)) {
      const path = e.path.replace(/:(\w+)/g, '{$1}');
      const op = doc.paths[path][e.method];
      expect(op.requestBody?.content?.['application/json']?.schema, `${e.method} ${path}`).toEqual(expect.any(Object));
    }
    const label = doc.paths['/api/v1/labels'].post.requestBody.content['application/json'].schema;
    expect(label.type).toBe('object');
    expect(label.required).toEqual(expect.arrayContaining(['name', 'type']));
    expect(label.properties.type.enum).toEqual(['categorical', 'numeric', 'text', 'star', 'thumbs']);
    expect(label.additionalProperties).toBe(false);
    const score = doc.paths['/api/v1/scores'].post.requestBody.content['application/json'].schema;
    expect(score.required).toEqual(expect.arrayContaining(['sourceType', 'sourceId', 'label', 'value']));
    const sources = doc.paths['/api/v1/sources'].post.requestBody.content['application/json'].schema;
    expect(sources).toMatchObject({ type: 'array', maxItems: 1000 });
    const list = doc.paths['/api/v1/scores'].get.parameters.map((p: { name: string }) => p.name);
    expect(list).toEqual(expect.arrayContaining(['limit', 'cursor', 'sourceType', 'sourceId', 'label', 'annotatorId', 'scoreSource', 'since', 'until']));
    const created = doc.paths['/api/v1/scores'].post.responses['201'].content['application/json'].schema;
    expect(created.properties).toHaveProperty('annotatorId');
  });

  it('references only schemas it defines', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      if (!ref.startsWith('#/components/')) continue; // local $defs of an inline JSON Schema resolve within it
      const target = ref
        .slice(2)
        .split('/')
        .reduce<any>((node, part) => node?.[part], doc);
      expect(target, ref).toBeDefined();
    }
  });
});

describe('dependencies down', () => {
  let system: TestSystem;
  let ws: Fixture;
  // The server logs each 503 with its stack (expected here); keep the test output readable.
  let consoleError: MockInstance;
  const quiet: MockInstance[] = [];

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
    consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    quiet.push(
      consoleError,
      vi.spyOn(console, 'log').mockImplementation(() => undefined),
      vi.spyOn(console, 'warn').mockImplementation(() => undefined),
    );
  });
  afterAll(async () => {
    for (const spy of quiet) spy.mockRestore();
    await system?.close();
  });

  it('answers 503 UNAVAILABLE without a stack when Postgres is down, and /readyz names Postgres', async () => {
    const deadDb = createDb('postgres://postgres@127.0.0.1:1/x', { max: 2 });
    const app = await listen({ db: deadDb, repos: createRepos(deadDb), temporal: system.temporal });
    try {
      const client = apiClient(app.url, ws.adminKey);
      const read = await client.get('/api/v1/labels');
      expectError(read, 503, 'UNAVAILABLE', /Postgres/);
      expectNoInternals(read);
      // The cause stays on the server, in its log.
      expect(consoleError.mock.calls.some((args) => format(...(args as unknown[])).includes('GET /api/v1/labels failed'))).toBe(true);
      const write = await client.post('/api/v1/sources', [{ type: 'trace', id: `t-${uid()}` }]);
      expectError(write, 503, 'UNAVAILABLE');
      expectNoInternals(write);

      const ready = await apiClient(app.url, undefined).get('/readyz');
      expectError(ready, 503, 'UNAVAILABLE', /Postgres/);
      expect(ready.body.error.message).not.toMatch(/Temporal/);
      expect(ready.body.error.details).toEqual({ postgres: 'down', temporal: 'ok' });
      expectNoInternals(ready);
      // The process itself is up.
      expect((await apiClient(app.url, undefined).get('/healthz')).status).toBe(200);
    } finally {
      await app.close();
      await deadDb.destroy();
    }
  });

  it('answers /readyz with 503 naming Temporal when Temporal is unreachable', async () => {
    const deadTemporal = createTemporal('127.0.0.1:1', 'default', `dead-${uid()}`);
    const app = await listen({ db: system.db, repos: system.repos, temporal: deadTemporal });
    try {
      const ready = await apiClient(app.url, undefined).get('/readyz');
      expectError(ready, 503, 'UNAVAILABLE', /Temporal/);
      expect(ready.body.error.message).not.toMatch(/Postgres/);
      expect(ready.body.error.details).toEqual({ postgres: 'ok', temporal: 'down' });
      expectNoInternals(ready);
      // Reads served from Postgres still work.
      expect((await apiClient(app.url, ws.adminKey).get('/api/v1/labels')).status).toBe(200);
    } finally {
      await app.close();
      await deadTemporal.connection.close().catch(() => undefined);
    }
  });

  it('names both when both are down', async () => {
    const deadDb = createDb('postgres://postgres@127.0.0.1:1/x', { max: 2 });
    const deadTemporal = createTemporal('127.0.0.1:1', 'default', `dead-${uid()}`);
    const app = await listen({ db: deadDb, repos: createRepos(deadDb), temporal: deadTemporal });
    try {
      const ready = await apiClient(app.url, undefined).get('/readyz');
      expectError(ready, 503, 'UNAVAILABLE', /Postgres and Temporal/);
    } finally {
      await app.close();
      await deadDb.destroy();
      await deadTemporal.connection.close().catch(() => undefined);
    }
  });
});
