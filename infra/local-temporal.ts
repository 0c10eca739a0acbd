import { TestWorkflowEnvironment } from '@temporalio/testing';
import { findOrInstallTemporalCli, NO_TEMPORAL_CLI_MESSAGE, startDevServer, type DevServer } from './temporal-cli.js';

/**
 * The Temporal dev server for a laptop or a test run: the CLI when it can be found or installed,
 * else the SDK's own download of it (needs internet).
 */
export async function startLocalTemporal(opts: { dbFile: string; port: number; uiPort: number; namespace: string; logFile?: string }): Promise<DevServer> {
  const cliPath = findOrInstallTemporalCli();
  if (cliPath) return startDevServer({ cliPath, ...opts });
  try {
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'cached-download' },
        ip: '127.0.0.1',
        port: opts.port,
        uiPort: opts.uiPort,
        dbFilename: opts.dbFile,
        namespace: opts.namespace,
      },
    });
    return { address: `127.0.0.1:${opts.port}`, uiUrl: `http://127.0.0.1:${opts.uiPort}`, stop: () => env.teardown() };
  } catch (error) {
    throw new Error(`${NO_TEMPORAL_CLI_MESSAGE} (The download failed: ${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
}
