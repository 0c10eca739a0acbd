import type { Server } from 'node:http';
import express from 'express';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { endpoint, mountEndpoints } from '../../api/endpoint.js';
import { errorHandler } from '../../api/errors.js';

/** The tests' app parses every answer against its declared response schema: drift is caught, not shipped. */
describe('response schema check', () => {
  const drifts: string[] = [];
  let server: Server;
  let url: string;

  beforeAll(async () => {
    const app = express();
    const router = express.Router();
    const answer = z.object({ id: z.string(), count: z.number().int() });
    mountEndpoints(
      router,
      [
        endpoint({
          method: 'get',
          path: '/ok',
          tag: 't',
          summary: 'matches',
          authenticated: false,
          status: 200,
          response: answer,
          handler: () => Promise.resolve({ id: 'a', count: 1 }),
        }),
        endpoint({
          method: 'get',
          path: '/drift',
          tag: 't',
          summary: 'drifts',
          authenticated: false,
          status: 200,
          response: answer,
          handler: () => Promise.resolve({ id: 'a', count: '1' }),
        }),
      ],
      () => Promise.reject(new Error('no authentication in this test')),
      (e, issues) => drifts.push(`${e.path}: ${issues}`),
    );
    app.use(router);
    app.use(errorHandler);
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('passes an answer that matches its schema', async () => {
    const res = await fetch(`${url}/ok`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'a', count: 1 });
    expect(drifts).toEqual([]);
  });

  it('reports a drifting answer and fails the request instead of sending it', async () => {
    const res = await fetch(`${url}/drift`);
    expect(res.status).toBe(500);
    expect(drifts).toEqual([expect.stringContaining('/drift: count:')]);
  });
});
