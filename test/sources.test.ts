import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspaceFixture, startTestSystem, type HttpResult, type TestSystem } from './helpers/system.js';

const uid = () => randomUUID().slice(0, 8);
type Fixture = Awaited<ReturnType<typeof createWorkspaceFixture>>;

function expectError(res: HttpResult, status: number, code: string, message?: RegExp): void {
  expect({ status: res.status, body: res.body }).toMatchObject({ status, body: { error: { code, message: expect.any(String) } } });
  if (message) expect(res.body.error.message).toMatch(message);
}

describe('sources', () => {
  let system: TestSystem;
  let ws: Fixture;

  const sourceRows = (where: Record<string, unknown> = {}) =>
    system
      .db('sources')
      .where({ workspace_id: ws.workspaceId, ...where })
      .orderBy('external_id');
  const countRows = async () => (await sourceRows()).length;

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
  });
  afterAll(async () => system?.close());

  it('reports added, duplicates and errors per entry, writing only the valid entries', async () => {
    const trace = `trace-${uid()}`;
    const span = `span-${uid()}`;
    const row = `row-${uid()}`;
    const orphan = `span-${uid()}`;
    const before = await countRows();
    const res = await ws.member.post('/api/v1/sources', [
      { type: 'trace', id: trace, input: { q: 'first' }, output: 'answer' }, // 0 added
      { type: 'observation_span', id: span, traceId: trace, name: 'llm call' }, // 1 added
      { type: 'dataset_row', id: row, input: [1, 2] }, // 2 added
      { type: 'trace', id: trace, input: { q: 'second' } }, // 3 duplicate of 0
      { type: 'observation_span', id: orphan }, // 4 span without traceId
      { type: 'tweet', id: `t-${uid()}` }, // 5 unknown type
      { type: 'trace', id: `trace-${uid()}`, colour: 'red' }, // 6 unknown field
      { type: 'trace', id: '' }, // 7 empty id
      'not an object', // 8
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      added: [
        { index: 0, type: 'trace', id: trace },
        { index: 1, type: 'observation_span', id: span },
        { index: 2, type: 'dataset_row', id: row },
      ],
      updated: [],
      duplicates: [{ index: 3, type: 'trace', id: trace, firstIndex: 0 }],
      errors: [
        { index: 4, code: 'VALIDATION', message: expect.stringMatching(/traceId/) },
        { index: 5, code: 'VALIDATION', message: expect.stringMatching(/type/) },
        { index: 6, code: 'VALIDATION', message: expect.stringMatching(/colour/) },
        { index: 7, code: 'VALIDATION', message: expect.stringMatching(/id/) },
        { index: 8, code: 'VALIDATION', message: expect.any(String) },
      ],
    });
    expect(await countRows()).toBe(before + 3);
    expect(await sourceRows({ external_id: orphan })).toHaveLength(0);
    // The first of two repeats is the one kept.
    expect((await ws.member.get(`/api/v1/sources/trace/${trace}`)).body.input).toEqual({ q: 'first' });
  });

  it('reports a re-sent source as updated and stores its new content', async () => {
    const trace = `trace-${uid()}`;
    const first = await ws.member.post('/api/v1/sources', [{ type: 'trace', id: trace, output: 'v1', attributes: { model: 'a' } }]);
    expect(first.body.added).toEqual([{ index: 0, type: 'trace', id: trace }]);
    const before = await countRows();
    const again = await ws.member.post('/api/v1/sources', [
      { type: 'dataset_row', id: `row-${uid()}` },
      { type: 'trace', id: trace, output: 'v2', attributes: { model: 'b' } },
    ]);
    expect(again.status).toBe(200);
    expect(again.body.added).toEqual([{ index: 0, type: 'dataset_row', id: expect.any(String) }]);
    expect(again.body.updated).toEqual([{ index: 1, type: 'trace', id: trace }]);
    expect(again.body.errors).toEqual([]);
    expect(await countRows()).toBe(before + 1);
    const [row] = await sourceRows({ type: 'trace', external_id: trace });
    expect(row).toMatchObject({ output: 'v2', attributes: { model: 'b' } });
  });

  it('refuses a span without traceId as an entry error, and writes nothing for it', async () => {
    const span = `span-${uid()}`;
    const res = await ws.member.post('/api/v1/sources', [{ type: 'observation_span', id: span, output: 'x' }]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ added: [], updated: [], duplicates: [], errors: [{ index: 0, code: 'VALIDATION', message: expect.stringMatching(/traceId/) }] });
    expect(await sourceRows({ external_id: span })).toHaveLength(0);
  });

  it('reports a span re-sent with another traceId as an entry CONFLICT, leaving the stored span unchanged', async () => {
    const [t1, t2, span] = [`trace-${uid()}`, `trace-${uid()}`, `span-${uid()}`];
    const created = await ws.member.post('/api/v1/sources', [
      { type: 'trace', id: t1 },
      { type: 'trace', id: t2 },
      { type: 'observation_span', id: span, traceId: t1, output: 'original', attributes: { k: 1 } },
    ]);
    expect(created.body.added).toHaveLength(3);
    const stored = (await ws.member.get(`/api/v1/sources/observation_span/${span}`)).body;
    const [storedRow] = await sourceRows({ external_id: span });

    const other = `row-${uid()}`;
    const res = await ws.member.post('/api/v1/sources', [
      { type: 'observation_span', id: span, traceId: t2, output: 'moved', attributes: { k: 2 } },
      { type: 'dataset_row', id: other },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      added: [{ index: 1, type: 'dataset_row', id: other }],
      updated: [],
      duplicates: [],
      errors: [{ index: 0, code: 'CONFLICT', message: expect.stringMatching(/another trace/) }],
    });
    const after = await ws.member.get(`/api/v1/sources/observation_span/${span}`);
    expect(after.body).toEqual(stored);
    expect(after.body).toMatchObject({ traceId: t1, output: 'original', attributes: { k: 1 } });
    const [afterRow] = await sourceRows({ external_id: span });
    expect(afterRow).toEqual(storedRow);

    // Re-sent with its own trace, it updates.
    const same = await ws.member.post('/api/v1/sources', [{ type: 'observation_span', id: span, traceId: t1, output: 'revised' }]);
    expect(same.body.updated).toEqual([{ index: 0, type: 'observation_span', id: span }]);
    expect((await ws.member.get(`/api/v1/sources/observation_span/${span}`)).body).toMatchObject({ traceId: t1, output: 'revised' });
  });

  it('reports an entry holding the NUL character (which Postgres cannot store) as an entry error naming the field, writing the others', async () => {
    const [bad, badKey, good] = [`trace-${uid()}`, `trace-${uid()}`, `trace-${uid()}`];
    const res = await ws.member.post('/api/v1/sources', [
      { type: 'trace', id: bad, output: 'binary \u0000 junk' },
      { type: 'trace', id: badKey, attributes: { nested: { 'k\u0000': 1 } } },
      { type: 'trace', id: good, output: 'clean' },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      added: [{ index: 2, type: 'trace', id: good }],
      updated: [],
      duplicates: [],
      errors: [
        { index: 0, code: 'VALIDATION', message: expect.stringMatching(/^output: .*NUL/) },
        { index: 1, code: 'VALIDATION', message: expect.stringMatching(/^attributes\.nested\.k.*NUL/) },
      ],
    });
    expect(await sourceRows({ external_id: bad })).toHaveLength(0);
    expect(await sourceRows({ external_id: good })).toHaveLength(1);
  });

  it('returns a source with its content', async () => {
    const span = `span-${uid()}`;
    const trace = `trace-${uid()}`;
    const content = {
      type: 'observation_span',
      id: span,
      traceId: trace,
      sessionId: `session-${uid()}`,
      name: 'generate answer',
      input: { prompt: 'What is 2+2?', temperature: 0.2 },
      output: 'Four.',
      messages: [
        { role: 'user', content: 'What is 2+2?' },
        { role: 'assistant', content: 'Four.' },
      ],
      attributes: { model: 'gpt-x', tokens: 12 },
      metadata: { env: 'prod' },
    };
    expect((await ws.member.post('/api/v1/sources', [content])).body.added).toHaveLength(1);
    const res = await ws.member.get(`/api/v1/sources/observation_span/${span}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...content, createdAt: expect.any(String), updatedAt: expect.any(String) });
    expect(Number.isNaN(Date.parse(res.body.createdAt))).toBe(false);
  });

  it('returns null content fields for a bare source', async () => {
    const row = `row-${uid()}`;
    await ws.member.post('/api/v1/sources', [{ type: 'dataset_row', id: row }]);
    const res = await ws.member.get(`/api/v1/sources/dataset_row/${row}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      type: 'dataset_row',
      id: row,
      traceId: null,
      sessionId: null,
      name: null,
      input: null,
      output: null,
      messages: null,
      attributes: {},
      metadata: {},
    });
  });

  it('keeps sources of different types with the same id apart', async () => {
    const id = `shared-${uid()}`;
    const res = await ws.member.post('/api/v1/sources', [
      { type: 'trace', id, output: 'trace' },
      { type: 'dataset_row', id, output: 'row' },
    ]);
    expect(res.body.added).toHaveLength(2);
    expect((await ws.member.get(`/api/v1/sources/trace/${id}`)).body.output).toBe('trace');
    expect((await ws.member.get(`/api/v1/sources/dataset_row/${id}`)).body.output).toBe('row');
  });

  it('answers 400 naming the type for an unknown source type', async () => {
    expectError(await ws.member.get(`/api/v1/sources/tweet/x-${uid()}`), 400, 'VALIDATION', /type/);
  });

  it('answers 404 for an unknown id', async () => {
    expectError(await ws.member.get(`/api/v1/sources/trace/missing-${uid()}`), 404, 'NOT_FOUND', /trace\/missing-/);
  });

  it('accepts exactly 1000 entries and refuses 1001 with 400, writing nothing', async () => {
    const ok = await ws.member.post(
      '/api/v1/sources',
      Array.from({ length: 1000 }, (_, i) => ({ type: 'dataset_row', id: `bulk-${uid()}-${i}` })),
    );
    expect(ok.status).toBe(200);
    expect(ok.body.added).toHaveLength(1000);
    const before = await countRows();
    const tooMany = await ws.member.post(
      '/api/v1/sources',
      Array.from({ length: 1001 }, (_, i) => ({ type: 'dataset_row', id: `over-${uid()}-${i}` })),
    );
    expectError(tooMany, 400, 'VALIDATION', /1000/);
    expect(await countRows()).toBe(before);
  });

  it('refuses an empty batch and a body that is not an array with 400, writing nothing', async () => {
    const before = await countRows();
    expectError(await ws.member.post('/api/v1/sources', []), 400, 'VALIDATION');
    expectError(await ws.member.post('/api/v1/sources', { type: 'trace', id: `single-${uid()}` }), 400, 'VALIDATION');
    expect(await countRows()).toBe(before);
  });
});
