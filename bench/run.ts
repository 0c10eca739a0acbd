import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startApi } from '../api/main.js';
import { prepareBackends } from '../infra/bootstrap.js';
import { createDb } from '../infra/db.js';
import { startEmbeddedPostgres } from '../infra/embedded-postgres.js';
import { startLocalTemporal } from '../infra/local-temporal.js';
import { freePort } from '../infra/ports.js';
import { createPrincipalsRepo } from '../infra/repositories/principals.repo.js';
import { generateApiKey } from '../infra/api-keys.js';
import { noopUpdate } from './workflows.js';

/**
 * `npm run bench`: throughput and latency against the Temporal dev server and Postgres on this
 * machine, next to raw Temporal baselines. JSON to stdout and bench/results/<timestamp>.json.
 */
Runtime.install({ logger: new DefaultLogger('WARN') });
const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-bench-'));
fs.chmodSync(tmp, 0o755);
const stops: (() => Promise<void>)[] = [];
// A crash (say, a gRPC retry firing after its channel closed) must not leave the servers running.
process.on('uncaughtException', (error) => {
  console.error('bench stopped on an unexpected error:', error);
  void Promise.allSettled(stops.map((stop) => stop())).then(() => process.exit(1));
});

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: round(percentile(s, 50)), p95: round(percentile(s, 95)), p99: round(percentile(s, 99)) };
};
const round = (n: number) => Math.round(n * 10) / 10;
const progress = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const value = await fn();
  return [value, performance.now() - t];
}

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function rssOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

try {
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dir: path.join(tmp, 'pg'), port: await freePort(), database: 'quorum', persistent: false });
    stops.push(pg.stop);
    databaseUrl = pg.url;
  } else {
    const name = `quorum_bench_${Date.now()}`;
    const admin = createDb(databaseUrl, { max: 1 });
    await admin.raw('create database ??', [name]);
    await admin.destroy();
    const url = new URL(databaseUrl);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    stops.push(async () => {
      const a = createDb(process.env.DATABASE_URL!, { max: 1 });
      await a.raw('drop database if exists ?? with (force)', [name]);
      await a.destroy();
    });
  }
  const temporal = await startLocalTemporal({
    dbFile: path.join(tmp, 'temporal.sqlite'),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
  });
  stops.push(temporal.stop);
  const db = createDb(databaseUrl, { max: 4 });
  const connection = await Connection.connect({ address: temporal.address });
  await prepareBackends(db, connection, 'default');
  const ownerKey = generateApiKey();
  await createPrincipalsRepo(db).ensureOwner(ownerKey);
  const client = new Client({ connection });
  const taskQueue = `bench-${randomUUID().slice(0, 8)}`;

  // The worker in its own process, so its memory can be measured alone.
  const worker: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/worker.ts')], {
    env: { ...process.env, DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: taskQueue },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  stops.unshift(async () => {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
  });
  await new Promise<void>((resolve, reject) => {
    worker.stdout!.on('data', (d) => String(d).includes('bench-worker-ready') && resolve());
    worker.once('exit', (code) => reject(new Error(`bench worker exited ${code}`)));
  });

  const api = await startApi({ databaseUrl, temporalAddress: temporal.address, namespace: 'default', taskQueue, host: '127.0.0.1', port: await freePort() });
  stops.unshift(api.close);
  const call = async (key: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${api.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  // Fixture: a workspace, 50 annotators, one label, an active queue.
  const ws = (await call(ownerKey, 'POST', '/api/v1/workspaces', { name: 'bench' })).body;
  const adminKey: string = ws.apiKey;
  await call(adminKey, 'POST', '/api/v1/labels', { key: 'rating', name: 'Rating', type: 'categorical', settings: { options: ['good', 'bad'] } });
  const annotators: { id: string; key: string }[] = [];
  for (let i = 0; i < 50; i++) {
    const user = (await call(adminKey, 'POST', '/api/v1/users', { email: `a${i}@bench.local`, name: `A${i}`, role: 'member' })).body;
    const key = (await call(adminKey, 'POST', '/api/v1/api-keys', { userId: user.id, name: 'k' })).body.key;
    annotators.push({ id: user.id, key });
  }
  const newQueue = async () => {
    const q = (
      await call(adminKey, 'POST', '/api/v1/queues', {
        name: `q-${randomUUID().slice(0, 6)}`,
        labels: [{ label: 'rating' }],
        members: annotators.map((a) => ({ userId: a.id, roles: ['annotator'] })),
      })
    ).body;
    await call(adminKey, 'POST', `/api/v1/queues/${q.id}/status`, { status: 'active' });
    return q.id as string;
  };
  const addItems = async (queueId: string, n: number, batch: number) => {
    for (let i = 0; i < n; i += batch) {
      const sources = Array.from({ length: Math.min(batch, n - i) }, () => ({ type: 'trace', id: randomUUID(), output: 'answer' }));
      await call(adminKey, 'POST', '/api/v1/sources', sources);
      const res = await call(adminKey, 'POST', `/api/v1/queues/${queueId}/items`, { items: sources.map((s) => ({ sourceType: 'trace', sourceId: s.id })) });
      if (res.status !== 200 || res.body.added.length !== sources.length)
        throw new Error(`enqueue failed: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    }
  };

  /** Waits until every item of the queue has been picked up by its workflow, so phases do not overlap. */
  const settle = async (queueId: string) => {
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const row = await db('queue_items').where({ queue_id: queueId, version: 0 }).count({ n: '*' }).first();
      if (Number(row?.n) === 0) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error('items did not settle within 300 s');
  };

  // 1. Raw workflow starts vs enqueueing items (1000 items in batches of 100).
  progress('raw workflow starts');
  const starts = 1000;
  const [, rawStartMs] = await timed(() =>
    pool(
      Array.from({ length: starts }, (_, i) => i),
      25,
      async (i) => {
        await client.workflow.start('noopWorkflow', { taskQueue, workflowId: `noop-${taskQueue}-${i}` });
      },
    ),
  );
  await new Promise((r) => setTimeout(r, 3000));
  progress('enqueue 1000 items');
  const queueA = await newQueue();
  const [, enqueueMs] = await timed(() => addItems(queueA, 1000, 100));
  const [, settleMs] = await timed(() => settle(queueA));
  progress(`enqueued in ${round(enqueueMs)} ms; workflows settled ${round(settleMs)} ms later`);
  const rawStartsPerSecond = round(starts / (rawStartMs / 1000));
  const enqueuePerSecond = round(1000 / (enqueueMs / 1000));

  // 2. Raw no-op update round trip (1 and 10 concurrent callers).
  progress('raw updates');
  const updateWorkflows = await Promise.all(
    Array.from({ length: 10 }, (_, i) => client.workflow.start('noopUpdateWorkflow', { taskQueue, workflowId: `noop-update-${taskQueue}-${i}` })),
  );
  const rawUpdate = async (concurrency: number, total: number) => {
    const latencies: number[] = [];
    const [, ms] = await timed(() =>
      pool(
        Array.from({ length: total }, (_, i) => i),
        concurrency,
        async (i) => {
          const [, t] = await timed(() => updateWorkflows[i % concurrency]!.executeUpdate(noopUpdate, { args: [i] }));
          latencies.push(t);
        },
      ),
    );
    return { concurrency, perSecond: round(total / (ms / 1000)), latencyMs: stats(latencies) };
  };
  const rawUpdates = [await rawUpdate(1, 200), await rawUpdate(10, 500)];
  await Promise.all(updateWorkflows.map((h) => h.executeUpdate(noopUpdate, { args: [-1] })));

  // 3. next + submit round trips with 1, 10 and 50 annotators.
  const annotate = async (concurrency: number, rounds: number) => {
    progress(`next+submit with ${concurrency} annotators`);
    const queueId = await newQueue();
    await addItems(queueId, concurrency * rounds + 10, 500);
    await settle(queueId);
    const latencies: number[] = [];
    const refused: Record<string, number> = {};
    const [, ms] = await timed(() =>
      Promise.all(
        annotators.slice(0, concurrency).map(async (a) => {
          for (let done = 0, attempts = 0; done < rounds && attempts < rounds * 5; attempts++) {
            // A real client: on 429/503 it backs off and tries again; only successful round trips are timed.
            const started = performance.now();
            const next = await call(a.key, 'POST', `/api/v1/queues/${queueId}/next`);
            const submit =
              next.status === 200
                ? await call(
                    a.key,
                    'POST',
                    `/api/v1/queues/${queueId}/items/${next.body.item.id}/submit`,
                    { annotations: [{ label: 'rating', value: 'good' }] },
                    { 'idempotency-key': randomUUID() },
                  )
                : next;
            if (next.status === 200 && submit.status === 200) {
              latencies.push(performance.now() - started);
              done++;
            } else {
              const key = `${next.status === 200 ? 'submit' : 'next'} ${submit.status}`;
              refused[key] = (refused[key] ?? 0) + 1;
              await new Promise((r) => setTimeout(r, 500));
            }
          }
        }),
      ),
    );
    return { annotators: concurrency, roundTrips: latencies.length, perSecond: round(latencies.length / (ms / 1000)), latencyMs: stats(latencies), refused };
  };
  const nextSubmit = [await annotate(1, 30), await annotate(10, 10), await annotate(50, 3)];

  // 4. Worker RSS with 5,000 open items.
  progress('5000 open items');
  const queueB = await newQueue();
  const rssBefore = rssOf(worker.pid!);
  await addItems(queueB, 5000, 1000);
  await settle(queueB);
  const rssWith5000 = rssOf(worker.pid!);

  const at10 = nextSubmit.find((n) => n.annotators === 10)!;
  const rawAt10 = rawUpdates.find((u) => u.concurrency === 10)!;
  const result = {
    machine: { cpus: os.cpus().length, memoryGiB: round(os.totalmem() / 2 ** 30), node: process.version },
    enqueue: {
      items: 1000,
      batch: 100,
      itemsPerSecond: enqueuePerSecond,
      workflowsSettledAfterMs: round(settleMs),
      rawWorkflowStartsPerSecond: rawStartsPerSecond,
      ratio: round(enqueuePerSecond / rawStartsPerSecond),
    },
    rawUpdate: rawUpdates,
    nextSubmit,
    workerRss: { beforeMiB: round(rssBefore / 2 ** 20), with5000OpenItemsMiB: round(rssWith5000 / 2 ** 20) },
    targets: {
      enqueueAtLeast70PercentOfRawStart: enqueuePerSecond >= 0.7 * rawStartsPerSecond,
      nextSubmitP95AtMost2xRawUpdateAt10: at10.latencyMs.p95 <= 2 * rawAt10.latencyMs.p95,
    },
  };
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  fs.mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  fs.writeFileSync(path.join(root, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`), json);
  await connection.close();
  await db.destroy();
} finally {
  for (const stop of stops) await stop().catch((e) => console.error(String(e)));
  fs.rmSync(tmp, { recursive: true, force: true });
}
