import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { TestProject } from 'vitest/node';
import { createDb } from '../../infra/db.js';
import { startEmbeddedPostgres, type LocalPostgres } from '../../infra/embedded-postgres.js';
import { migrateLatest } from '../../infra/migrations/index.js';
import { freePort } from '../../infra/ports.js';
import { ensureSearchAttributes } from '../../infra/temporal.js';
import { startLocalTemporal } from '../../infra/local-temporal.js';
import { bundleWorkflows } from '../../worker/create-worker.js';

/**
 * One Postgres and one Temporal dev server for the whole run. Postgres is DATABASE_URL when set
 * (CI), else an embedded one in a temp dir. A migrated template database is cloned per test file.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
    temporalAddress: string;
    workflowBundlePath: string;
    runId: string;
  }
}

/** What the shared servers offer each test file (vitest's provide/inject, or the history recorder directly). */
export interface SharedServers {
  adminDatabaseUrl: string;
  templateDatabase: string;
  temporalAddress: string;
  workflowBundlePath: string;
  runId: string;
}

export default async function setup(project: TestProject) {
  const { servers, stop } = await startSharedServers();
  project.provide('adminDatabaseUrl', servers.adminDatabaseUrl);
  project.provide('templateDatabase', servers.templateDatabase);
  project.provide('temporalAddress', servers.temporalAddress);
  project.provide('workflowBundlePath', servers.workflowBundlePath);
  project.provide('runId', servers.runId);
  return stop;
}

export async function startSharedServers(): Promise<{ servers: SharedServers; stop: () => Promise<void> }> {
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-test-'));
  fs.chmodSync(tmp, 0o755);
  const stops: (() => Promise<void>)[] = [];

  let adminUrl = process.env.DATABASE_URL;
  let embedded: LocalPostgres | undefined;
  if (!adminUrl) {
    embedded = await startEmbeddedPostgres({ dir: path.join(tmp, 'pg'), port: await freePort(), database: 'postgres', persistent: false });
    stops.push(embedded.stop);
    adminUrl = embedded.url;
  }

  const templateDatabase = `quorum_test_${runId}_template`;
  const admin = createDb(adminUrl, { max: 1 });
  await admin.raw('create database ??', [templateDatabase]);
  const template = createDb(withDatabase(adminUrl, templateDatabase), { max: 1 });
  await migrateLatest(template);
  await template.destroy();

  const temporal = await startLocalTemporal({
    dbFile: path.join(tmp, 'temporal.sqlite'),
    port: await freePort(),
    uiPort: await freePort(),
    namespace: 'default',
    logFile: path.join(tmp, 'temporal.log'),
  });
  stops.push(temporal.stop);
  const connection = await Connection.connect({ address: temporal.address });
  await ensureSearchAttributes(connection, 'default');
  await connection.close();

  const bundle = await bundleWorkflows();
  const workflowBundlePath = path.join(tmp, 'workflow-bundle.js');
  fs.writeFileSync(workflowBundlePath, bundle.code);

  const servers = { adminDatabaseUrl: adminUrl, templateDatabase, temporalAddress: temporal.address, workflowBundlePath, runId };
  const stop = async () => {
    const { rows } = await admin.raw(`select datname from pg_database where datname like ?`, [`quorum_test_${runId}%`]);
    for (const { datname } of rows as { datname: string }[]) await admin.raw('drop database if exists ?? with (force)', [datname]);
    await admin.destroy();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  return { servers, stop };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}
