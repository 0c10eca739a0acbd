import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspaceFixture, startTestSystem, type ApiClient, type HttpResult, type TestSystem } from './helpers/system.js';

const uid = () => randomUUID().slice(0, 8);
type Fixture = Awaited<ReturnType<typeof createWorkspaceFixture>>;

function expectError(res: HttpResult, status: number, code: string, message?: RegExp | string): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  if (typeof message === 'string') expect(res.body.error.message).toBe(message);
  else if (message) expect(res.body.error.message).toMatch(message);
}

async function scoreRows(system: TestSystem, workspaceId: string, where: Record<string, unknown> = {}) {
  return system
    .db('scores')
    .where({ workspace_id: workspaceId, ...where })
    .orderBy('id');
}

async function createLabel(admin: ApiClient, body: Record<string, unknown>) {
  const key = `${String(body.type)}-${uid()}`;
  const res = await admin.post('/api/v1/labels', { key, name: key, ...body });
  if (res.status !== 201) throw new Error(`label: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { id: string; key: string; version: number };
}

async function createTraces(admin: ApiClient, n: number, type = 'trace'): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `${type}-${uid()}`);
  const res = await admin.post(
    '/api/v1/sources',
    ids.map((id) => ({ type, id, input: `in ${id}`, output: `out ${id}` })),
  );
  if (res.status !== 200 || res.body.added.length !== n) throw new Error(`sources: ${res.status} ${JSON.stringify(res.body)}`);
  return ids;
}

async function serviceKey(ws: Fixture, role?: 'admin' | 'member') {
  const res = await ws.admin.post('/api/v1/api-keys', { name: `svc-${uid()}`, ...(role && { role }) });
  if (res.status !== 201) throw new Error(`key: ${res.status} ${JSON.stringify(res.body)}`);
  return { principalId: res.body.principalId as string, key: res.body.key as string };
}

describe('POST /api/v1/scores', () => {
  let system: TestSystem;
  let ws: Fixture;
  let service: { principalId: string; client: ApiClient };
  let numeric: { id: string; key: string };
  let categorical: { id: string; key: string };
  let multi: { id: string; key: string };
  let thumbs: { id: string; key: string };
  let text: { id: string; key: string };
  let star: { id: string; key: string };
  let noNotes: { id: string; key: string };

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
    const svc = await serviceKey(ws);
    service = { principalId: svc.principalId, client: system.as(svc.key) };
    numeric = await createLabel(ws.admin, { type: 'numeric', settings: { min: 0, max: 10 } });
    categorical = await createLabel(ws.admin, { type: 'categorical', settings: { options: ['good', 'bad'] } });
    multi = await createLabel(ws.admin, { type: 'categorical', settings: { options: ['a', 'b', 'c'], multiChoice: true } });
    thumbs = await createLabel(ws.admin, { type: 'thumbs' });
    text = await createLabel(ws.admin, { type: 'text', settings: { maxLength: 20 } });
    star = await createLabel(ws.admin, { type: 'star', settings: { stars: 5 } });
    noNotes = await createLabel(ws.admin, { type: 'thumbs', allowNotes: false });
  });
  afterAll(async () => system?.close());

  it('creates a score with 201, its typed value and the label version, and stores the typed columns', async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const res = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: numeric.key, value: 7.5 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      sourceType: 'trace',
      sourceId,
      labelId: numeric.id,
      labelKey: numeric.key,
      labelVersion: 1,
      value: 7.5,
      annotatorId: ws.memberId,
      principalId: ws.memberId,
      scoreSource: 'human',
      notes: null,
      queueItemId: null,
      round: null,
      metadata: {},
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const [row] = await scoreRows(system, ws.workspaceId, { id: res.body.id });
    expect(row).toMatchObject({ value: 7.5, value_number: 7.5, value_text: null, value_boolean: null, value_texts: null, label_version: 1, deleted_at: null });
  });

  it.each([
    ['categorical', 'good', { value_text: 'good', value_number: null, value_boolean: null, value_texts: null }],
    ['multi', ['a', 'c'], { value_texts: ['a', 'c'], value_text: null }],
    ['thumbs', false, { value_boolean: false, value_number: null }],
    ['text', 'fine answer', { value_text: 'fine answer' }],
    ['star', 4, { value_number: 4 }],
  ] as const)('stores a %s value as given, with its typed column', async (which, value, columns) => {
    const label = { categorical, multi, thumbs, text, star }[which];
    const [sourceId] = await createTraces(ws.admin, 1);
    const res = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: label.id, value });
    expect(res.status).toBe(201);
    expect(res.body.value).toEqual(value);
    expect(res.body.labelKey).toBe(label.key);
    const [row] = await scoreRows(system, ws.workspaceId, { id: res.body.id });
    expect(row).toMatchObject({ value, ...columns });
  });

  it('answers 200 and replaces the value when the same (source, label, identity) re-scores; one row remains', async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const first = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: categorical.key, value: 'good', notes: 'first look' });
    expect(first.status).toBe(201);
    const second = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: categorical.id, value: 'bad' });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: first.body.id, value: 'bad', notes: null, createdAt: first.body.createdAt });
    expect(new Date(second.body.updatedAt).getTime()).toBeGreaterThanOrEqual(new Date(first.body.updatedAt).getTime());

    const all = await system.db('scores as s').join('sources as src', 'src.id', 's.source_id').where('src.external_id', sourceId).select('s.*');
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ value: 'bad', value_text: 'bad' });
  });

  it('keeps one score per metadata.identityId sent by a service key, and upserts when the identityId repeats', async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const score = (identityId: string, value: boolean) =>
      service.client.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: thumbs.key, value, metadata: { identityId, source: 'widget' } });
    const u1 = `user-${uid()}`;
    const u2 = `user-${uid()}`;
    const a = await score(u1, true);
    const b = await score(u2, false);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body).toMatchObject({ annotatorId: u1, principalId: service.principalId, scoreSource: 'api', metadata: { identityId: u1, source: 'widget' } });
    expect(b.body).toMatchObject({ annotatorId: u2, principalId: service.principalId });
    expect(a.body.id).not.toBe(b.body.id);

    const again = await score(u1, false);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: a.body.id, value: false, annotatorId: u1 });

    const rows = await system
      .db('scores as s')
      .join('sources as src', 'src.id', 's.source_id')
      .where('src.external_id', sourceId)
      .select('s.annotator_id', 's.value');
    expect(rows.map((r) => [r.annotator_id, r.value]).sort()).toEqual(
      [
        [u1, false],
        [u2, false],
      ].sort(),
    );
  });

  it('forbids a user key to score on behalf of another identity, and writes nothing', async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const before = (await scoreRows(system, ws.workspaceId)).length;
    const res = await ws.member.post('/api/v1/scores', {
      sourceType: 'trace',
      sourceId,
      label: thumbs.key,
      value: true,
      metadata: { identityId: `someone-${uid()}` },
    });
    expectError(res, 403, 'FORBIDDEN', /identityId/);
    expect((await scoreRows(system, ws.workspaceId)).length).toBe(before);
    // Naming itself is allowed.
    const self = await ws.member.post('/api/v1/scores', {
      sourceType: 'trace',
      sourceId,
      label: thumbs.key,
      value: true,
      metadata: { identityId: ws.memberId },
    });
    expect(self.status).toBe(201);
    expect(self.body.annotatorId).toBe(ws.memberId);
  });

  it("forbids a service key to score as one of the workspace's users, so it cannot overwrite their scores", async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const own = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: thumbs.key, value: true });
    expect(own.status).toBe(201);
    const res = await service.client.post('/api/v1/scores', {
      sourceType: 'trace',
      sourceId,
      label: thumbs.key,
      value: false,
      metadata: { identityId: ws.memberId },
    });
    expectError(res, 403, 'FORBIDDEN', /external identity/);
    const rows = await system.db('scores').where({ id: own.body.id });
    expect(rows[0].value).toBe(true);
    expect(rows[0].principal_id).toBe(ws.memberId);
  });

  it('defaults scoreSource to human for a user key and api for a service key, and keeps an explicit one', async () => {
    const [s1, s2, s3] = await createTraces(ws.admin, 3);
    const human = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: s1, label: thumbs.key, value: true });
    const api = await service.client.post('/api/v1/scores', { sourceType: 'trace', sourceId: s2, label: thumbs.key, value: true });
    const automation = await service.client.post('/api/v1/scores', {
      sourceType: 'trace',
      sourceId: s3,
      label: thumbs.key,
      value: true,
      scoreSource: 'automation',
    });
    expect([human.body.scoreSource, api.body.scoreSource, automation.body.scoreSource]).toEqual(['human', 'api', 'automation']);
    expect(api.body.annotatorId).toBe(service.principalId);
    const rows = await system.db('scores').whereIn('id', [human.body.id, api.body.id, automation.body.id]).orderBy('id');
    expect(new Set(rows.map((r) => r.score_source))).toEqual(new Set(['human', 'api', 'automation']));
  });

  it('answers 404 for an unknown label and for an unknown source, and writes nothing', async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const before = (await scoreRows(system, ws.workspaceId)).length;
    expectError(
      await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: 'no-such-label', value: true }),
      404,
      'NOT_FOUND',
      /Label no-such-label/,
    );
    expectError(await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: randomUUID(), value: true }), 404, 'NOT_FOUND', /Label/);
    expectError(
      await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId: 'no-such-trace', label: thumbs.key, value: true }),
      404,
      'NOT_FOUND',
      /Source trace\/no-such-trace/,
    );
    // The same external id under another type is another source.
    expectError(await ws.member.post('/api/v1/scores', { sourceType: 'dataset_row', sourceId, label: thumbs.key, value: true }), 404, 'NOT_FOUND', /Source/);
    expect((await scoreRows(system, ws.workspaceId)).length).toBe(before);
  });

  it("refuses an invalid value with 400 and the label's message, and writes nothing", async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const before = (await scoreRows(system, ws.workspaceId)).length;
    const post = (label: string, value: unknown) => ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label, value });
    expectError(await post(numeric.key, 11), 400, 'VALIDATION', 'Value 11 is out of range [0, 10].');
    expectError(await post(categorical.key, 'meh'), 400, 'VALIDATION', 'Invalid value: meh. Valid options are: good, bad.');
    expectError(await post(multi.key, ['a', 'z']), 400, 'VALIDATION', 'Invalid value: z. Valid options are: a, b, c.');
    expectError(await post(text.key, 'x'.repeat(21)), 400, 'VALIDATION', 'String value exceeds maximum length of 20 characters.');
    expectError(await post(star.key, 6), 400, 'VALIDATION', 'Value 6 is out of range [1, 5].');
    expectError(await post(thumbs.key, 'yes'), 400, 'VALIDATION', /boolean/);
    expect((await scoreRows(system, ws.workspaceId)).length).toBe(before);
  });

  it('refuses notes on a label with allowNotes=false, and keeps them where allowed', async () => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const before = (await scoreRows(system, ws.workspaceId)).length;
    const refused = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: noNotes.key, value: true, notes: 'why' });
    expectError(refused, 400, 'VALIDATION', /notes/);
    expect((await scoreRows(system, ws.workspaceId)).length).toBe(before);

    const withoutNotes = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: noNotes.key, value: true });
    expect(withoutNotes.status).toBe(201);
    const allowed = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: thumbs.key, value: true, notes: 'clear answer' });
    expect(allowed.status).toBe(201);
    expect(allowed.body.notes).toBe('clear answer');
    expect((await system.db('scores').where({ id: allowed.body.id }).first()).notes).toBe('clear answer');
  });
});

describe('POST /api/v1/scores/bulk', () => {
  let system: TestSystem;
  let ws: Fixture;
  let label: { id: string; key: string };

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
    label = await createLabel(ws.admin, { type: 'numeric', settings: { min: 0, max: 5 } });
  });
  afterAll(async () => system?.close());

  it('reports added, duplicates and errors per entry, writing the valid entries only', async () => {
    const [s1, s2, s3] = await createTraces(ws.admin, 3);
    const before = (await scoreRows(system, ws.workspaceId)).length;
    const res = await ws.member.post('/api/v1/scores/bulk', [
      { sourceType: 'trace', sourceId: s1, label: label.key, value: 1 }, // 0 added
      { sourceType: 'trace', sourceId: s2, label: label.key, value: 9 }, // 1 out of range
      { sourceType: 'trace', sourceId: s1, label: label.id, value: 2 }, // 2 duplicate of 0 (label by id)
      { sourceType: 'trace', sourceId: s2, label: 'nope', value: 1 }, // 3 unknown label
      { sourceType: 'trace', label: label.key, value: 1 }, // 4 no sourceId
      { sourceType: 'trace', sourceId: 'missing', label: label.key, value: 1 }, // 5 unknown source
      { sourceType: 'trace', sourceId: s3, label: label.key, value: 3, colour: 'red' }, // 6 unknown field
      { sourceType: 'trace', sourceId: s3, label: label.key, value: 4 }, // 7 added
    ]);
    expect(res.status).toBe(200);
    expect(res.body.added).toEqual([
      { index: 0, id: expect.any(String) },
      { index: 7, id: expect.any(String) },
    ]);
    expect(res.body.duplicates).toEqual([{ index: 2, firstIndex: 0 }]);
    expect(res.body.errors).toEqual([
      { index: 1, code: 'VALIDATION', message: 'Value 9 is out of range [0, 5].' },
      { index: 3, code: 'NOT_FOUND', message: expect.stringMatching(/Label nope/) },
      { index: 4, code: 'VALIDATION', message: expect.stringMatching(/sourceId/) },
      { index: 5, code: 'NOT_FOUND', message: expect.stringMatching(/Source trace\/missing/) },
      { index: 6, code: 'VALIDATION', message: expect.stringMatching(/colour/) },
    ]);

    const rows = await scoreRows(system, ws.workspaceId);
    expect(rows.length).toBe(before + 2);
    const written = await system
      .db('scores')
      .whereIn(
        'id',
        res.body.added.map((a: { id: string }) => a.id),
      )
      .orderBy('id');
    expect(written.map((r) => r.value_number).sort()).toEqual([1, 4]);
    // Nothing was written for s2 (both its entries were invalid).
    const forS2 = await system
      .db('scores as s')
      .join('sources as src', 'src.id', 's.source_id')
      .where({ 'src.external_id': s2, 's.workspace_id': ws.workspaceId });
    expect(forS2).toHaveLength(0);
  });

  it('reports an entry holding the NUL character as an entry error naming the field, writing the others', async () => {
    const [s1, s2] = await createTraces(ws.admin, 2);
    const text = await createLabel(ws.admin, { type: 'text' });
    const res = await ws.member.post('/api/v1/scores/bulk', [
      { sourceType: 'trace', sourceId: s1, label: text.key, value: 'a\u0000b' },
      { sourceType: 'trace', sourceId: s2, label: text.key, value: 'fine' },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.added).toEqual([{ index: 1, id: expect.any(String) }]);
    expect(res.body.errors).toEqual([{ index: 0, code: 'VALIDATION', message: expect.stringMatching(/^value: .*NUL/) }]);
    expect(await scoreRows(system, ws.workspaceId, { label_id: text.id })).toHaveLength(1);
  });

  it('upserts in bulk: re-sending an existing (source, label, identity) replaces its value, keeping its id', async () => {
    const [s1] = await createTraces(ws.admin, 1);
    const first = await ws.member.post('/api/v1/scores/bulk', [{ sourceType: 'trace', sourceId: s1, label: label.key, value: 1 }]);
    const second = await ws.member.post('/api/v1/scores/bulk', [{ sourceType: 'trace', sourceId: s1, label: label.key, value: 5 }]);
    expect(second.body.added[0].id).toBe(first.body.added[0].id);
    const rows = await system.db('scores').where({ id: first.body.added[0].id });
    expect(rows).toHaveLength(1);
    expect(rows[0].value_number).toBe(5);
  });

  it('accepts exactly 1000 entries', async () => {
    const svc = await serviceKey(ws);
    const [s1] = await createTraces(ws.admin, 1);
    const entries = Array.from({ length: 1000 }, (_, i) => ({
      sourceType: 'trace',
      sourceId: s1,
      label: label.key,
      value: i % 6,
      metadata: { identityId: `end-user-${i}` },
    }));
    const res = await system.as(svc.key).post('/api/v1/scores/bulk', entries);
    expect(res.status).toBe(200);
    expect(res.body.added).toHaveLength(1000);
    expect(res.body.errors).toEqual([]);
    expect((await scoreRows(system, ws.workspaceId, { principal_id: svc.principalId })).length).toBe(1000);
  });

  it('refuses more than 1000 entries with 400 and writes nothing', async () => {
    const svc = await serviceKey(ws);
    const [s1] = await createTraces(ws.admin, 1);
    const before = (await scoreRows(system, ws.workspaceId)).length;
    const entries = Array.from({ length: 1001 }, (_, i) => ({
      sourceType: 'trace',
      sourceId: s1,
      label: label.key,
      value: 1,
      metadata: { identityId: `u-${i}` },
    }));
    const res = await system.as(svc.key).post('/api/v1/scores/bulk', entries);
    expectError(res, 400, 'VALIDATION', /1000/);
    expect((await scoreRows(system, ws.workspaceId)).length).toBe(before);
  });

  it('refuses an empty batch and a body that is not an array with 400', async () => {
    expectError(await ws.member.post('/api/v1/scores/bulk', []), 400, 'VALIDATION');
    const [s1] = await createTraces(ws.admin, 1);
    const before = (await scoreRows(system, ws.workspaceId)).length;
    expectError(await ws.member.post('/api/v1/scores/bulk', { sourceType: 'trace', sourceId: s1, label: label.key, value: 1 }), 400, 'VALIDATION');
    expect((await scoreRows(system, ws.workspaceId)).length).toBe(before);
  });
});

describe('GET /api/v1/scores', () => {
  let system: TestSystem;
  let ws: Fixture;
  let l1: { id: string; key: string };
  let l2: { id: string; key: string };
  let svc: { principalId: string; key: string };
  let traceIds: string[];
  let rowId: string;
  const ids: Record<string, string> = {};

  const list = async (query: string) => {
    const res = await ws.admin.get(`/api/v1/scores?limit=500${query ? `&${query}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return (res.body.data as { id: string }[]).map((s) => s.id).sort();
  };
  const named = (...names: string[]) => names.map((n) => ids[n]!).sort();

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
    l1 = await createLabel(ws.admin, { type: 'thumbs' });
    l2 = await createLabel(ws.admin, { type: 'star' });
    svc = await serviceKey(ws);
    traceIds = await createTraces(ws.admin, 2);
    rowId = (await createTraces(ws.admin, 1, 'dataset_row'))[0]!;
    const service = system.as(svc.key);
    const post = async (name: string, client: ApiClient, body: Record<string, unknown>) => {
      const res = await client.post('/api/v1/scores', body);
      if (res.status !== 201) throw new Error(`${name}: ${res.status} ${JSON.stringify(res.body)}`);
      ids[name] = res.body.id;
    };
    await post('m-t0-l1', ws.member, { sourceType: 'trace', sourceId: traceIds[0], label: l1.key, value: true });
    await post('m-t0-l2', ws.member, { sourceType: 'trace', sourceId: traceIds[0], label: l2.key, value: 3 });
    await post('m-t1-l1', ws.member, { sourceType: 'trace', sourceId: traceIds[1], label: l1.key, value: false });
    await post('s-t1-l1', service, { sourceType: 'trace', sourceId: traceIds[1], label: l1.key, value: true, metadata: { identityId: 'end-user-1' } });
    await post('s-r-l2', service, { sourceType: 'dataset_row', sourceId: rowId, label: l2.key, value: 5 });
    await post('a-r-l1', ws.admin, { sourceType: 'dataset_row', sourceId: rowId, label: l1.key, value: true, scoreSource: 'imported' });
    // Spread creation times so since/until have exact answers.
    const at: Record<string, string> = {
      'm-t0-l1': '2024-01-01T00:00:00Z',
      'm-t0-l2': '2024-02-01T00:00:00Z',
      'm-t1-l1': '2024-03-01T00:00:00Z',
      's-t1-l1': '2024-04-01T00:00:00Z',
      's-r-l2': '2024-05-01T00:00:00Z',
      'a-r-l1': '2024-06-01T00:00:00Z',
    };
    for (const [name, createdAt] of Object.entries(at)) await system.db('scores').where({ id: ids[name] }).update({ created_at: createdAt });
  });
  afterAll(async () => system?.close());

  it('lists every live score of the workspace without filters', async () => {
    expect(await list('')).toEqual(Object.values(ids).sort());
  });

  it('filters by sourceType and sourceId', async () => {
    expect(await list('sourceType=dataset_row')).toEqual(named('s-r-l2', 'a-r-l1'));
    expect(await list(`sourceId=${traceIds[1]}`)).toEqual(named('m-t1-l1', 's-t1-l1'));
    expect(await list(`sourceType=trace&sourceId=${traceIds[0]}`)).toEqual(named('m-t0-l1', 'm-t0-l2'));
    expect(await list(`sourceType=dataset_row&sourceId=${traceIds[0]}`)).toEqual([]);
  });

  it('filters by label, given by key or by id, and answers an empty page for an unknown label', async () => {
    const byKey = await list(`label=${l2.key}`);
    expect(byKey).toEqual(named('m-t0-l2', 's-r-l2'));
    expect(await list(`label=${l2.id}`)).toEqual(byKey);
    expect(await list('label=no-such-label')).toEqual([]);
    expect(await list(`label=${randomUUID()}`)).toEqual([]);
  });

  it('filters by annotatorId (the principal, or the identityId a service key sent)', async () => {
    expect(await list(`annotatorId=${ws.memberId}`)).toEqual(named('m-t0-l1', 'm-t0-l2', 'm-t1-l1'));
    expect(await list('annotatorId=end-user-1')).toEqual(named('s-t1-l1'));
    expect(await list(`annotatorId=${svc.principalId}`)).toEqual(named('s-r-l2'));
  });

  it('filters by scoreSource', async () => {
    expect(await list('scoreSource=human')).toEqual(named('m-t0-l1', 'm-t0-l2', 'm-t1-l1'));
    expect(await list('scoreSource=api')).toEqual(named('s-t1-l1', 's-r-l2'));
    expect(await list('scoreSource=imported')).toEqual(named('a-r-l1'));
    expect(await list('scoreSource=automation')).toEqual([]);
  });

  it('filters by since (inclusive) and until (exclusive)', async () => {
    expect(await list('since=2024-03-01T00:00:00Z')).toEqual(named('m-t1-l1', 's-t1-l1', 's-r-l2', 'a-r-l1'));
    expect(await list('until=2024-03-01T00:00:00Z')).toEqual(named('m-t0-l1', 'm-t0-l2'));
    expect(await list('since=2024-01-15T00:00:00Z&until=2024-04-15T00:00:00Z')).toEqual(named('m-t0-l2', 'm-t1-l1', 's-t1-l1'));
    expect(await list(`since=2024-02-01T00:00:00%2B02:00&until=2024-05-01T00:00:00Z&label=${l1.key}`)).toEqual(named('m-t1-l1', 's-t1-l1'));
  });

  it('combines filters', async () => {
    expect(await list(`label=${l1.key}&scoreSource=human&sourceId=${traceIds[1]}`)).toEqual(named('m-t1-l1'));
  });

  it('answers an empty page for a queueId that is not a UUID', async () => {
    expect(await list('queueId=not-a-queue')).toEqual([]);
  });

  it('refuses bad filters with 400 naming the parameter', async () => {
    expectError(await ws.admin.get('/api/v1/scores?since=yesterday'), 400, 'VALIDATION', /since/);
    expectError(await ws.admin.get('/api/v1/scores?sourceType=tweet'), 400, 'VALIDATION', /sourceType/);
    expectError(await ws.admin.get('/api/v1/scores?scoreSource=robot'), 400, 'VALIDATION', /scoreSource/);
    expectError(await ws.admin.get('/api/v1/scores?limit=0'), 400, 'VALIDATION', /limit/);
    expectError(await ws.admin.get('/api/v1/scores?limit=501'), 400, 'VALIDATION', /limit/);
    expectError(await ws.admin.get('/api/v1/scores?colour=red'), 400, 'VALIDATION', /colour/);
  });

  it('walks every page with limit=2, without repeats, ending with nextCursor null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: HttpResult = await ws.admin.get(`/api/v1/scores?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((s: { id: string }) => s.id));
      cursor = res.body.nextCursor;
      pages++;
      expect(pages).toBeLessThan(10);
    } while (cursor);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(Object.values(ids).sort());
  });

  it('paginates a filtered list', async () => {
    const first = await ws.admin.get(`/api/v1/scores?limit=2&label=${l1.key}`);
    expect(first.body.data).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await ws.admin.get(`/api/v1/scores?limit=2&label=${l1.key}&cursor=${first.body.nextCursor}`);
    expect(second.body.data).toHaveLength(2);
    expect(second.body.nextCursor).toBeNull();
    const all = [...first.body.data, ...second.body.data].map((s: { id: string }) => s.id).sort();
    expect(all).toEqual(named('m-t0-l1', 'm-t1-l1', 's-t1-l1', 'a-r-l1'));
  });
});

describe('DELETE /api/v1/scores/{id}', () => {
  let system: TestSystem;
  let ws: Fixture;
  let other: ApiClient;
  let label: { id: string; key: string };

  const scoreAs = async (client: ApiClient) => {
    const [sourceId] = await createTraces(ws.admin, 1);
    const res = await client.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: label.key, value: true });
    expect(res.status).toBe(201);
    return { id: res.body.id as string, sourceId: sourceId! };
  };
  const listedIds = async () => ((await ws.admin.get('/api/v1/scores?limit=500')).body.data as { id: string }[]).map((s) => s.id);

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
    label = await createLabel(ws.admin, { type: 'thumbs' });
    const user = await ws.admin.post('/api/v1/users', { email: `other-${uid()}@example.com`, name: 'Other', role: 'member' });
    const key = await ws.admin.post('/api/v1/api-keys', { userId: user.body.id, name: 'other' });
    other = system.as(key.body.key);
  });
  afterAll(async () => system?.close());

  it('lets the author delete their score: 204, gone from GET, deleted_at set in the database', async () => {
    const { id } = await scoreAs(ws.member);
    expect(await listedIds()).toContain(id);
    const res = await ws.member.delete(`/api/v1/scores/${id}`);
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expect(await listedIds()).not.toContain(id);
    const row = await system.db('scores').where({ id }).first();
    expect(row.deleted_at).toBeInstanceOf(Date);
    // A second delete finds nothing.
    expectError(await ws.member.delete(`/api/v1/scores/${id}`), 404, 'NOT_FOUND');
  });

  it("lets an admin delete a member's score", async () => {
    const { id } = await scoreAs(ws.member);
    expect((await ws.admin.delete(`/api/v1/scores/${id}`)).status).toBe(204);
    expect(await listedIds()).not.toContain(id);
    expect((await system.db('scores').where({ id }).first()).deleted_at).toBeInstanceOf(Date);
  });

  it('forbids another member to delete it (403), and it stays', async () => {
    const { id } = await scoreAs(ws.member);
    expectError(await other.delete(`/api/v1/scores/${id}`), 403, 'FORBIDDEN');
    expect((await system.db('scores').where({ id }).first()).deleted_at).toBeNull();
    expect(await listedIds()).toContain(id);
  });

  it('answers 404 for an unknown id and for an id that is not a UUID', async () => {
    expectError(await ws.admin.delete(`/api/v1/scores/${randomUUID()}`), 404, 'NOT_FOUND');
    expectError(await ws.admin.delete('/api/v1/scores/not-a-uuid'), 404, 'NOT_FOUND');
  });

  it('lets the same identity score the source again after a delete (201, a new score)', async () => {
    const { id, sourceId } = await scoreAs(ws.member);
    expect((await ws.member.delete(`/api/v1/scores/${id}`)).status).toBe(204);
    const again = await ws.member.post('/api/v1/scores', { sourceType: 'trace', sourceId, label: label.key, value: false });
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(id);
    const rows = await system.db('scores').where({ label_id: label.id, annotator_id: ws.memberId }).whereIn('id', [id, again.body.id]);
    expect(rows).toHaveLength(2);
  });
});
