import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../infra/ports.js';

/**
 * `npm run smoke`: the embedded path as a new user gets it. `npm start` with a temporary data dir
 * (DATABASE_URL and TEMPORAL_ADDRESS unset), wait for /readyz, read <data dir>/admin-key, create a
 * label, Ctrl-C, start again, the label and the key are still there; stop it with a SIGTERM to npm alone,
 * start again and stop it with a SIGTERM to its node process alone, start once more: no process is ever left behind.
 */
const root = path.resolve(import.meta.dirname, '..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quorum-smoke-'));
fs.chmodSync(dataDir, 0o755);
const ports = { PORT: await freePort(), QUORUM_PG_PORT: await freePort(), TEMPORAL_PORT: await freePort(), TEMPORAL_UI_PORT: await freePort() };
const env: NodeJS.ProcessEnv = { ...process.env, QUORUM_DATA_DIR: dataDir, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };
delete env.DATABASE_URL;
delete env.TEMPORAL_ADDRESS;
delete env.QUORUM_ADMIN_KEY;
const api = `http://127.0.0.1:${ports.PORT}`;

function step(message: string) {
  console.log(`[smoke] ${message}`);
}

function fail(message: string): never {
  console.error(`[smoke] FAILED: ${message}`);
  process.exit(1);
}

function start(): { child: ChildProcess; output: () => string } {
  // Its own process group, like a terminal session, so Ctrl-C (SIGINT to the group) can be replayed.
  const child = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += String(d)));
  child.stderr.on('data', (d: Buffer) => (output += String(d)));
  return { child, output: () => output };
}

async function waitReady(run: { child: ChildProcess; output: () => string }): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    if (run.child.exitCode !== null) fail(`npm start exited with ${run.child.exitCode}:\n${run.output()}`);
    const ready = await fetch(`${api}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready && run.output().includes('Admin key: ')) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  fail(`not ready within 300 s:\n${run.output()}`);
}

function processesInGroup(pgid: number): string[] {
  const out = execFileSync('ps', ['-eo', 'pgid=,pid=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim().split(/\s+/)[0] === String(pgid));
}

/** The node process that runs scripts/start.ts, under npm, sh and the tsx launcher. */
function startProcessOf(pgid: number): number {
  const line = processesInGroup(pgid).find((l) => /node .*scripts\/start\.ts/.test(l) && !/tsx\/dist\/cli/.test(l));
  if (!line) fail(`no node process running scripts/start.ts in group ${pgid}:\n${processesInGroup(pgid).join('\n')}`);
  return Number(line.trim().split(/\s+/)[1]);
}

/**
 * Stops a running `npm start` the way `how` says: Ctrl-C in a terminal (SIGINT to the whole group), or a
 * SIGTERM to npm alone (what a process supervisor sends) or to the node process alone. Every process it
 * started must be gone afterwards.
 */
async function interrupt(run: { child: ChildProcess; output: () => string }, how: 'ctrl-c' | 'sigterm-npm' | 'sigterm-node' = 'ctrl-c'): Promise<void> {
  const pgid = run.child.pid!;
  if (how === 'ctrl-c') process.kill(-pgid, 'SIGINT');
  else process.kill(how === 'sigterm-npm' ? pgid : startProcessOf(pgid), 'SIGTERM');
  const exited = await Promise.race([
    new Promise<boolean>((resolve) => run.child.once('exit', () => resolve(true))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 60_000)),
  ]);
  if (!exited) fail(`npm start did not stop within 60 s of ${how}:\n${run.output()}`);
  for (let i = 0; i < 120 && processesInGroup(pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 250));
  const left = processesInGroup(pgid);
  if (left.length > 0) {
    process.kill(-pgid, 'SIGKILL');
    fail(`processes left behind after ${how}:\n${left.join('\n')}`);
  }
}

async function call(method: string, route: string, key: string, body?: unknown) {
  const res = await fetch(`${api}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer: unknown = await res.json().catch(() => undefined);
  return { status: res.status, body: answer };
}

step(`first start, data dir ${dataDir}`);
const first = start();
await waitReady(first);
for (const line of [`API: ${api}`, `Temporal UI: http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`, 'Admin key: ']) {
  if (!first.output().includes(line)) fail(`the console did not print "${line}":\n${first.output()}`);
}
const keyFile = path.join(dataDir, 'admin-key');
const key = fs.readFileSync(keyFile, 'utf8').trim();
if ((fs.statSync(keyFile).mode & 0o777) !== 0o600) fail(`${keyFile} is not mode 600`);
if (!first.output().includes(`Admin key: ${key}`)) fail('the printed admin key differs from the admin-key file');
const created = await call('POST', '/api/v1/labels', key, { key: 'smoke_quality', name: 'Smoke quality', type: 'star' });
if (created.status !== 201) fail(`creating a label gave ${created.status} ${JSON.stringify(created.body)}`);
step('label created; Ctrl-C');
await interrupt(first);

step('second start');
const second = start();
await waitReady(second);
if (!second.output().includes(`Admin key: ${key}`)) fail('the second start printed another admin key');
const found = await call('GET', '/api/v1/labels/smoke_quality', key);
if (found.status !== 200 || (found.body as { settings?: { stars?: number } } | undefined)?.settings?.stars !== 5)
  fail(`the label did not survive a restart: ${found.status} ${JSON.stringify(found.body)}`);
step('label and key survived the restart; SIGTERM to npm alone');
await interrupt(second, 'sigterm-npm');

step('third start; SIGTERM to the node process alone');
const third = start();
await waitReady(third);
await interrupt(third, 'sigterm-node');

step('fourth start after the SIGTERMs; Ctrl-C');
const fourth = start();
await waitReady(fourth);
if ((await call('GET', '/api/v1/labels/smoke_quality', key)).status !== 200) fail('the label did not survive the SIGTERM stops');
await interrupt(fourth);

fs.rmSync(dataDir, { recursive: true, force: true });
step('passed');
