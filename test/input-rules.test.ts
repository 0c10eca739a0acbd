import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ItemState } from '../domain/item.js';
import { MAX_JSON_DEPTH } from '../domain/storable.js';
import { stateQuery } from '../workflows/definitions.js';
import { createQueueFixture, type QueueFixture } from './helpers/queue-fixture.js';
import { apiClient, startTestSystem, type HttpResult, type TestSystem } from './helpers/system.js';

/**
 * Bad input gets a clear 4xx that names what is wrong, and writes nothing (DESIGN.md §5): each case here
 * was a 500, a silent change or a stranded item before.
 */
function expect400(res: HttpResult, field: RegExp): void {
  expect(res.status, JSON.stringify(res.body)).toBe(400);
  expect(res.body.error.code).toBe('VALIDATION');
  expect(res.body.error.message).toMatch(field);
}

describe('input Postgres cannot store', () => {
  let system: TestSystem;
  let q: QueueFixture;
  let itemId: string;

  beforeAll(async () => {
    system = await startTestSystem();
    q = await createQueueFixture(system, { annotators: 1, items: 0 });
    expect((await q.admin.post('/api/v1/labels', { key: 'comment', name: 'Comment', type: 'text', allowNotes: true })).status).toBe(201);
    expect((await q.admin.patch(q.path(), { labels: [{ label: 'rating' }, { label: 'comment', required: false }] })).status).toBe(200);
    [itemId] = (await q.addItems(1)) as [string];
  });
  afterAll(async () => system?.close());

  it.each([
    [
      'a NUL in a text value',
      {
        annotations: [
          { label: 'rating', value: 'good' },
          { label: 'comment', value: 'a\u0000b' },
        ],
      },
      /annotations\.1\.value: .*NUL/,
    ],
    [
      'a lone surrogate as a value',
      {
        annotations: [
          { label: 'rating', value: 'good' },
          { label: 'comment', value: '\ud800' },
        ],
      },
      /annotations\.1\.value: .*surrogate/,
    ],
    [
      'a lone surrogate in notes',
      {
        annotations: [
          { label: 'rating', value: 'good' },
          { label: 'comment', value: 'ok', notes: 'x\ud800' },
        ],
      },
      /annotations\.1\.notes: .*surrogate/,
    ],
  ])('refuses a submit with %s, and the item takes the valid retry', async (_case, body, field) => {
    const annotator = q.annotators[0]!;
    expect((await annotator.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    expect400(await annotator.api.post(q.path(`/items/${itemId}/submit`), body), field);
    // The workflow took nothing: its state and the read model agree, and the seat is still the annotator's.
    const state = await system.temporal.client.workflow.getHandle(`item-${itemId}`).query<ItemState>(stateQuery);
    const row = await system.db('queue_items').where({ id: itemId }).first();
    expect(state.version).toBe(row.version);
    expect(state.seats[annotator.id]?.state).toBe('reserved');
    expect(await system.db('scores').where({ queue_item_id: itemId }).count({ n: '*' }).first()).toEqual({ n: 0 });
    expect((await annotator.api.post(q.path(`/items/${itemId}/release`))).status).toBe(200);
  });

  it('takes a valid submit after the refusals', async () => {
    const annotator = q.annotators[0]!;
    expect((await annotator.api.post(q.path(`/items/${itemId}/reserve`))).status).toBe(200);
    const ok = await annotator.api.post(q.path(`/items/${itemId}/submit`), {
      annotations: [
        { label: 'rating', value: 'good' },
        { label: 'comment', value: 'fine' },
      ],
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
  });

  it.each([
    ['an inline score text value', '/api/v1/scores', { sourceType: 'trace', sourceId: 'x', label: 'comment', value: 'a\udc00b' }, /value: .*surrogate/],
    [
      'metadata.source',
      '/api/v1/scores',
      { sourceType: 'trace', sourceId: 'x', label: 'rating', value: 'good', metadata: { source: '\ud800' } },
      /metadata\.source: .*surrogate/,
    ],
    [
      'a label option',
      '/api/v1/labels',
      { key: 'bad-options', name: 'B', type: 'categorical', settings: { options: ['a', '\ud800'] } },
      /settings\.options\.1: .*surrogate/,
    ],
    ['a workspace name', '/api/v1/workspaces', { name: '\ud800' }, /name: .*surrogate/],
  ])('refuses a lone surrogate in %s with a 400 naming the field, and writes nothing', async (_case, route, body, field) => {
    const caller = route === '/api/v1/workspaces' ? system.as(system.ownerKey) : q.admin;
    const before = await system.db('workspaces').count({ n: '*' }).first();
    expect400(await caller.post(route, body), field);
    expect(await system.db('workspaces').count({ n: '*' }).first()).toEqual(before);
    expect(await system.db('labels').where({ key: 'bad-options' }).first()).toBeUndefined();
  });

  it('reports a bad entry of a per-entry batch in errors and writes the good ones', async () => {
    const res = await q.admin.post('/api/v1/sources', [
      { type: 'trace', id: 'ok-1' },
      { type: 'trace', id: 'bad-1', attributes: { k: '\ud800' } },
    ]);
    expect(res.status).toBe(200);
    expect(res.body.added).toEqual([{ index: 0, type: 'trace', id: 'ok-1' }]);
    expect(res.body.errors).toEqual([{ index: 1, code: 'VALIDATION', message: expect.stringMatching(/^attributes\.k: .*surrogate/) }]);
    expect(await system.db('sources').where({ external_id: 'bad-1' }).first()).toBeUndefined();
  });

  it(`refuses JSON nested deeper than ${MAX_JSON_DEPTH} levels, without overflowing the stack`, async () => {
    const deep = `${'['.repeat(4500)}${']'.repeat(4500)}`;
    const res = await q.admin.raw('POST', '/api/v1/sources', `[{"type":"trace","id":"deep-1","input":${deep}}]`, { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(res.body.errors[0].message).toMatch(/^input(\.0)+: nests deeper than 64 levels$/);
    expect400(
      await q.admin.raw('POST', '/api/v1/labels', `{"key":"deep","name":"D","type":"thumbs","settings":{"x":${deep}}}`, { 'content-type': 'application/json' }),
      /nests deeper/,
    );
  });
});

describe('requests that do not decode', () => {
  let system: TestSystem;
  let q: QueueFixture;
  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    q = await createQueueFixture(system, { annotators: 1, items: 0 });
  });
  afterAll(async () => system?.close());

  it.each(['%ff', '%', '%zz', '%C0%AF', '%ED%A0%80'])('answers 400 for the path parameter %s, with or without a key', async (param) => {
    expect400(await q.admin.get(`/api/v1/labels/${param}`), /path parameter/);
    expect400(await apiClient(system.url, undefined).get(`/api/v1/queues/${param}`), /path parameter/);
  });

  it.each(['gzip', 'deflate', 'br'])('answers 400 for a plain body that claims Content-Encoding: %s', async (encoding) => {
    const body = JSON.stringify({ key: 'enc', name: 'E', type: 'thumbs' });
    expect400(await q.admin.raw('POST', '/api/v1/labels', body, { 'content-type': 'application/json', 'content-encoding': encoding }), /Content-Encoding/);
    expect(await system.db('labels').where({ key: 'enc' }).first()).toBeUndefined();
  });

  it('still takes a body that really is gzipped', async () => {
    const body = gzipSync(JSON.stringify({ key: 'zipped', name: 'Z', type: 'thumbs' }));
    const res = await fetch(`${system.url}/api/v1/labels`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${q.adminKey}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    });
    expect(res.status).toBe(201);
  });

  it('caps metadata.identityId on the v2 route as on /api/v1/scores', async () => {
    const res = await q.admin.post('/v2/traces/t1/spans/s1/annotation', {
      annotations: [{ key: 'rating', value: 'good' }],
      metadata: { identityId: 'x'.repeat(3000) },
    });
    expect400(res, /identityId/);
  });

  it.each(['since', 'until'])('answers 400 for %s in year 0', async (param) => {
    expect400(await q.admin.get(`/api/v1/scores?${param}=0000-01-01T00:00:00Z`), new RegExp(`${param}: must be in the years 0001 to 9999`));
  });

  it('logs a 5xx with its error whatever the URL holds (the URL is never a format string)', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { errorHandler } = await import('../api/errors.js');
      const res = { headersSent: true } as never;
      errorHandler(new Error('boom'), { method: 'GET', originalUrl: '/x/%s%d%o%j' } as never, res, () => undefined);
      expect(logged).toHaveBeenCalledWith('[api] %s %s failed:', 'GET', '/x/%s%d%o%j', expect.objectContaining({ message: 'boom' }));
    } finally {
      logged.mockRestore();
    }
  });
});
