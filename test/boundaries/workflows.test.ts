import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** Workflows run in Temporal's sandbox: they import domain/ and activity types only (STYLE.md, Boundaries). */
const dir = path.join(import.meta.dirname, '../../workflows');

describe('workflow code boundaries', () => {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts'));
  it.each(files)('%s imports only the SDK, domain/ and activity types', (file) => {
    const source = fs.readFileSync(path.join(dir, file), 'utf8');
    const imports = [...source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)].map((m) => ({ typeOnly: Boolean(m[1]), from: m[2]! }));
    for (const { typeOnly, from } of imports) {
      const allowed =
        from === '@temporalio/workflow' ||
        from === '@temporalio/common' ||
        from.startsWith('../domain/') ||
        from.startsWith('./') ||
        (typeOnly && from.startsWith('../activities/'));
      expect(allowed, `${file} imports ${typeOnly ? 'type ' : ''}${from}`).toBe(true);
    }
    expect(source, 'no timers, no process, no wall clock other than the SDK Date.now').not.toMatch(/\bsetTimeout\(|\bprocess\.|new Date\(\)\.getTime/);
  });
});
