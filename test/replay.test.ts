import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';

/** Every committed history must replay on today's workflow code: a non-deterministic change fails here. */
const dir = path.join(import.meta.dirname, 'histories');
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('replay of recorded item workflow histories', () => {
  it('has the recorded paths', () => {
    expect(files).toEqual(expect.arrayContaining(['complete.json', 'expire.json', 'review-rework.json', 'skip-all.json', 'cancel.json']));
  });

  it.each(files)('replays %s without non-determinism', async (file) => {
    const history: unknown = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
    const results: { error?: unknown }[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, [{ workflowId: file, history }])) {
      results.push(result);
    }
    expect(results).toHaveLength(1);
    expect(results[0]!.error).toBeUndefined();
  });
});
