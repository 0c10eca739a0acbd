import type { Server } from 'node:http';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.js';
import { fromTemporal } from '../../app/item-workflows.js';
import { errorHandler, toHttpError } from '../../api/errors.js';
import { createTemporal } from '../../infra/temporal.js';
import { createQueueFixture, waitFor, type QueueFixture } from '../helpers/queue-fixture.js';
import { apiClient, startTestSystem, type TestSystem } from '../helpers/system.js';

describe('when Temporal cannot answer', () => {
  let system: TestSystem;
  let q: QueueFixture;
  let server: Server;
  let deadUrl: string;
  beforeAll(async () => {
    system = await startTestSystem();
    q = await createQueueFixture(system, { annotators: 1, items: 1 });
    // The same database, but a Temporal address where nothing listens.
    const app = createApp({ db: system.db, repos: system.repos, temporal: createTemporal('127.0.0.1:1', 'default', system.temporal.taskQueue) });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    deadUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await system?.close();
  });

  it('answers 503 UNAVAILABLE within the request deadline to an item action, writes nothing, leaks no stack', async () => {
    const annotator = apiClient(deadUrl, q.annotators[0]!.key);
    const itemId = q.itemIds[0]!;
    // The item's workflow (on the real server) has written its first snapshot; nothing may follow it.
    const before = await waitFor(
      () => system.db('item_events').where({ item_id: itemId }),
      (rows) => rows.length === 1,
    );
    const started = Date.now();
    const res = await annotator.post(q.path(`/items/${itemId}/reserve`));
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('UNAVAILABLE');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
    // Bounded, not hung: the request deadline is 10 s; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(30_000);
    const next = await annotator.post(q.path('/next'));
    expect(next.status).toBe(503);
    expect(await system.db('item_events').where({ item_id: itemId })).toHaveLength(before.length);
    expect((await system.db('queue_items').where({ id: itemId }).first()).reserved_by).toEqual([]);
  }, 90_000);
});

describe('when an item has too many updates in flight', () => {
  it('maps Temporal RESOURCE_EXHAUSTED to 429 RATE_LIMITED with Retry-After', () => {
    const exhausted = Object.assign(new Error('8 RESOURCE_EXHAUSTED: limit on concurrent in-flight updates'), {
      code: 8,
      details: 'limit on concurrent in-flight updates has been reached',
      metadata: new Metadata(),
    });
    expect(toHttpError(fromTemporal(exhausted))).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfter: 1 });
    const headers: Record<string, string> = {};
    let status = 0;
    let body: unknown;
    const res = {
      headersSent: false,
      setHeader: (k: string, v: string) => void (headers[k] = v),
      status(s: number) {
        status = s;
        return this;
      },
      json(b: unknown) {
        body = b;
        return this;
      },
    };
    errorHandler(fromTemporal(exhausted), { method: 'POST', originalUrl: '/x' } as never, res as never, () => undefined);
    expect(status).toBe(429);
    expect(headers['Retry-After']).toBe('1');
    expect(body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
  });
});
