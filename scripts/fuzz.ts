// `npm run fuzz`: the property-based fuzz suite at full size (test/fuzz/fuzz-engine.ts) against a whole
// system on this machine: ≥ 10,000 generated requests, the JSON report to stdout and to
// bench/results/fuzz-<timestamp>.json. `--requests N` and `--seed S` (the same seed sends the same
// requests). Exits 1 when an invariant is violated. Progress goes to stderr.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { runFuzz, violatedInvariants, type FuzzReport } from '../test/fuzz/fuzz-engine.js';
import { startSharedServers } from '../test/helpers/global-setup.js';
import { startTestSystem } from '../test/helpers/system.js';

const DEFAULT_REQUESTS = 10_000;
const DEFAULT_SEED = 20_240_601;

function positiveInt(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return value;
}

const { values } = parseArgs({ options: { requests: { type: 'string' }, seed: { type: 'string' } } });
const requests = positiveInt('requests', values.requests, DEFAULT_REQUESTS);
const seed = positiveInt('seed', values.seed, DEFAULT_SEED);

// Worker state changes at INFO would drown the progress lines.
Runtime.install({ logger: new DefaultLogger('WARN') });
const progress = (message: string) => console.error(`[fuzz ${new Date().toISOString().slice(11, 19)}] ${message}`);
const onProgress = (done: number, report: FuzzReport) =>
  progress(
    `${done}/${requests} requests: ${JSON.stringify(report.byStatusClass)}, ${report.serverErrors.length + (report.dropped.serverErrors ?? 0)} server errors`,
  );

const { servers, stop } = await startSharedServers();
// A crash (a gRPC callback after its channel closed, say) must not leave the Temporal dev server running.
process.on('uncaughtException', (error) => {
  console.error('fuzz stopped on an unexpected error:', error);
  void stop().finally(() => process.exit(1));
});
let report: FuzzReport;
try {
  const system = await startTestSystem({ servers });
  progress(`system up; sending ${requests} requests with seed ${seed}`);
  try {
    report = await runFuzz({ system, requests, seed, onProgress });
  } finally {
    // close() throws on response-schema drift, which the report already lists.
    await system.close().catch((error: unknown) => progress(`closing the system: ${(error as Error).message.split('\n')[0]}`));
  }
} finally {
  await stop();
}

const outDir = path.join(import.meta.dirname, '../bench/results');
fs.mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `fuzz-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
const json = JSON.stringify(report, null, 2);
fs.writeFileSync(file, json);
console.log(json);
const violated = violatedInvariants(report);
progress(`report written to ${path.relative(process.cwd(), file)}`);
progress(violated.length === 0 ? 'all invariants hold' : `invariants violated: ${violated.join('; ')}`);
process.exitCode = violated.length === 0 ? 0 : 1;
