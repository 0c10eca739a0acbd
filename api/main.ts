import type { Server } from 'node:http';
import { loadConfigOrExit, REQUIRED_BY_PROCESS } from '../infra/config.js';
import { createDb } from '../infra/db.js';
import { createRepos } from '../infra/repositories/index.js';
import { createTemporal } from '../infra/temporal.js';
import { createApp } from './app.js';

export interface RunningApi {
  server: Server;
  url: string;
  close: () => Promise<void>;
}

/** Starts the API on host:port; used by `npm run api` and by `npm start`. */
export async function startApi(opts: {
  databaseUrl: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  host: string;
  port: number;
}): Promise<RunningApi> {
  const db = createDb(opts.databaseUrl);
  const temporal = createTemporal(opts.temporalAddress, opts.namespace, opts.taskQueue);
  const app = createApp({ db, repos: createRepos(db), temporal });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(opts.port, opts.host, () => resolve(s));
    s.once('error', reject);
  });
  return {
    server,
    url: `http://${opts.host}:${opts.port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await temporal.connection.close();
      await db.destroy();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfigOrExit(REQUIRED_BY_PROCESS.api);
  const api = await startApi({
    databaseUrl: config.DATABASE_URL!,
    temporalAddress: config.TEMPORAL_ADDRESS!,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    host: config.HOST,
    port: config.PORT,
  });
  console.log(`API: ${api.url}`);
  const stop = () => void api.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
