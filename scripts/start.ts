import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { startApi } from '../api/main.js';
import { ensureLocalOwnerKey, prepareBackends } from '../infra/bootstrap.js';
import { loadConfigOrExit } from '../infra/config.js';
import { createDb } from '../infra/db.js';
import { startEmbeddedPostgres } from '../infra/embedded-postgres.js';
import { assertPortFree } from '../infra/ports.js';
import { startLocalTemporal } from '../infra/local-temporal.js';
import { startWorker } from '../worker/main.js';

/**
 * `npm start`: the whole system on one machine. Embedded Postgres unless DATABASE_URL is set, the
 * Temporal dev server unless TEMPORAL_ADDRESS is set, then migrations, one worker and the API.
 * Ctrl-C stops everything; data stays under QUORUM_DATA_DIR for the next start.
 */
const config = loadConfigOrExit();
Runtime.install({ logger: new DefaultLogger('WARN'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });

const stops: (() => Promise<void>)[] = [];
let stopping: Promise<never> | undefined;
/** Stops everything in reverse order of start, then exits. A second call (another signal, the watchdog) waits for the first. */
function stopAll(code: number): Promise<never> {
  stopping ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch((e) => console.error(String(e)));
    process.exit(code);
  })();
  return stopping;
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));
process.on('SIGHUP', () => void stopAll(0));

/** This process's ancestors, nearest first, up to (not including) init; from /proc where there is one, else the parent alone. */
function ancestors(): number[] {
  const found: number[] = [];
  for (let pid = process.ppid; pid > 1 && found.length < 32;) {
    found.push(pid);
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      // "pid (command) state ppid …": the command may hold spaces and parentheses, so read after the last ')'.
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A SIGTERM to npm (what a process supervisor sends) reaches neither this process nor the servers it
// started: the sh between npm and this code forwards nothing. (`npm start` runs node with tsx's loader
// rather than the tsx launcher, which answers a signal by SIGKILLing this process mid-shutdown.) So whenever one of the
// processes that launched this one is gone, stop everything, as on Ctrl-C.
const launchers = ancestors();
setInterval(() => {
  if (launchers.some((pid) => !alive(pid))) void stopAll(0);
}, 500).unref();
// A crash must not leave Postgres or the Temporal server running behind it.
process.on('uncaughtException', (error) => {
  console.error('Quorum stopped on an unexpected error:', error);
  void stopAll(1);
});

try {
  await assertPortFree(config.PORT, 'PORT', config.HOST);
  if (!config.DATABASE_URL) await assertPortFree(config.QUORUM_PG_PORT, 'QUORUM_PG_PORT');
  if (!config.TEMPORAL_ADDRESS) {
    await assertPortFree(config.TEMPORAL_PORT, 'TEMPORAL_PORT');
    await assertPortFree(config.TEMPORAL_UI_PORT, 'TEMPORAL_UI_PORT');
  }
  fs.mkdirSync(config.dataDir, { recursive: true });

  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    const pgLog = path.join(config.dataDir, 'postgres.log');
    const pg = await startEmbeddedPostgres({
      dir: path.join(config.dataDir, 'postgres'),
      port: config.QUORUM_PG_PORT,
      database: 'quorum',
      onLog: (line) => fs.appendFileSync(pgLog, line),
    });
    stops.push(pg.stop);
    databaseUrl = pg.url;
  }

  let temporalAddress = config.TEMPORAL_ADDRESS;
  let temporalUi = "n/a (TEMPORAL_ADDRESS is set; use your cluster's UI)";
  if (!temporalAddress) {
    const server = await startLocalTemporal({
      dbFile: path.join(config.dataDir, 'temporal.sqlite'),
      port: config.TEMPORAL_PORT,
      uiPort: config.TEMPORAL_UI_PORT,
      namespace: config.TEMPORAL_NAMESPACE,
      logFile: path.join(config.dataDir, 'temporal.log'),
    });
    stops.push(server.stop);
    temporalAddress = server.address;
    temporalUi = server.uiUrl;
  }

  const db = createDb(databaseUrl, { max: 2 });
  const connection = await Connection.connect({ address: temporalAddress, connectTimeout: '30s' });
  await prepareBackends(db, connection, config.TEMPORAL_NAMESPACE);
  const adminKey = await ensureLocalOwnerKey(db, config.dataDir, config.QUORUM_ADMIN_KEY);
  await connection.close();
  await db.destroy();

  const common = { databaseUrl, temporalAddress, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE };
  const worker = await startWorker(common);
  stops.push(worker.shutdown);
  worker.done.catch((error) => {
    console.error('Worker stopped:', error);
    void stopAll(1);
  });
  const api = await startApi({ ...common, host: config.HOST, port: config.PORT });
  stops.push(api.close);

  console.log(`API: ${api.url}`);
  console.log(`Temporal UI: ${temporalUi}`);
  console.log(`Admin key: ${adminKey}`);
  console.log(`(data in ${config.dataDir}; the admin key is also in ${path.join(config.dataDir, 'admin-key')}; Ctrl-C stops everything)`);
} catch (error) {
  console.error(`Quorum could not start: ${error instanceof Error ? error.message : String(error)}`);
  await stopAll(1);
}
