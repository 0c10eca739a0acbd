import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitForPort } from './ports.js';

/** The newest CLI that `go install` accepts (v1.6+ has a replace directive in its go.mod). */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal@v1.5.1';
const GO_INSTALL_ARGS = ['install', '-ldflags', '-X github.com/temporalio/cli/temporalcli.Version=1.5.1', TEMPORAL_CLI_MODULE];

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

function goBinDir(): string | undefined {
  const go = onPath('go') ?? (isExecutable('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) return undefined;
  try {
    return path.join(execFileSync(go, ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin');
  } catch {
    return undefined;
  }
}

/**
 * Finds the Temporal CLI: TEMPORAL_CLI_PATH, then PATH, then $(go env GOPATH)/bin; if absent and Go
 * is present, `go install`s it (retrying without the checksum database, the module's go.sum still
 * pins every dependency). Returns undefined when none works: the caller falls back to the SDK's download.
 */
export function findOrInstallTemporalCli(log: (line: string) => void = console.log): string | undefined {
  const explicit = process.env.TEMPORAL_CLI_PATH?.trim();
  if (explicit) {
    if (!isExecutable(explicit)) throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file.`);
    return explicit;
  }
  const found = onPath('temporal');
  if (found) return found;
  const binDir = goBinDir();
  if (!binDir) return undefined;
  const candidate = path.join(binDir, 'temporal');
  if (isExecutable(candidate)) return candidate;

  const go = onPath('go') ?? '/usr/local/go/bin/go';
  log(`Temporal CLI not found; installing ${TEMPORAL_CLI_MODULE} with go install (one time, a few minutes)...`);
  for (const extraEnv of [{}, { GOSUMDB: 'off' }]) {
    try {
      execFileSync(go, GO_INSTALL_ARGS, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CGO_ENABLED: '0', ...extraEnv } });
      if (isExecutable(candidate)) return candidate;
    } catch (error) {
      log(
        `go install failed${'GOSUMDB' in extraEnv ? '' : ', retrying with GOSUMDB=off'}: ${String((error as { stderr?: Buffer }).stderr ?? error)
          .trim()
          .split('\n')
          .slice(-2)
          .join(' ')}`,
      );
    }
  }
  return undefined;
}

export const NO_TEMPORAL_CLI_MESSAGE =
  'Could not find or install the Temporal CLI. Quorum looked at TEMPORAL_CLI_PATH, then `temporal` on PATH, then ' +
  '$(go env GOPATH)/bin/temporal; it tried `CGO_ENABLED=0 go install ' +
  TEMPORAL_CLI_MODULE +
  '` where Go is installed, ' +
  "and finally the Temporal SDK's own download of the dev server, which needs internet access. Install the CLI " +
  '(https://docs.temporal.io/cli) and set TEMPORAL_CLI_PATH, or point TEMPORAL_ADDRESS at a running Temporal server.';

export interface DevServer {
  address: string;
  uiUrl: string;
  stop: () => Promise<void>;
}

/** Starts `temporal server start-dev` with its state in a SQLite file; resolves when the frontend port answers. */
export async function startDevServer(opts: {
  cliPath: string;
  dbFile: string;
  port: number;
  uiPort: number;
  namespace: string;
  logFile?: string;
}): Promise<DevServer> {
  fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--ui-port',
    String(opts.uiPort),
    '--db-filename',
    opts.dbFile,
    '--namespace',
    opts.namespace,
    '--log-level',
    'warn',
    // An item's writes are activities scheduled by the workflow task just completed: hand them straight
    // back to the same worker instead of through the task queue (one server round trip less per change).
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
  ];
  const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const child: ChildProcess = spawn(opts.cliPath, args, { stdio: ['ignore', out, out] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = waitForPort(opts.port, 60_000);
  const outcome = await Promise.race([ready.then(() => 'ready' as const), exited.then((code) => code)]);
  if (outcome !== 'ready') throw new Error(`temporal server start-dev exited with code ${outcome}${opts.logFile ? `; see ${opts.logFile}` : ''}.`);
  return {
    address: `127.0.0.1:${opts.port}`,
    uiUrl: `http://127.0.0.1:${opts.uiPort}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
