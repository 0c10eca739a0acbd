import { DomainError } from './errors.js';

/**
 * What Postgres can store (DESIGN.md §5: bad input is a 400 that names the field, and nothing is
 * written). Text and jsonb cannot hold the NUL character or a lone UTF-16 surrogate (Postgres would
 * refuse the first and the JSON encoder would silently turn the second into U+FFFD), and jsonb has a
 * nesting limit. One function, used by the API on every body and by the item workflow's validators.
 */
export const MAX_JSON_DEPTH = 64;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why Postgres could not store this string as given, or undefined. */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'must not contain a lone UTF-16 surrogate (\\uD800–\\uDFFF outside a pair): it is not valid Unicode';
  return undefined;
}

export interface StorageProblem {
  /** Dotted path of the offending value ('' for the value itself). */
  path: string;
  message: string;
}

/**
 * The first string, key or nesting level of a JSON value that Postgres could not store, or undefined.
 * Iterative, so a deeply nested value is reported rather than overflowing the stack.
 */
export function findUnstorable(value: unknown, root = ''): StorageProblem | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));
  while (stack.length > 0) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      const problem = unstorableText(v);
      if (problem) return { path, message: problem };
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_JSON_DEPTH) return { path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
      const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((item, i) => [i, item]) : Object.entries(v);
      // Reversed onto the stack, so the first offending value in document order is the one reported.
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        if (typeof key === 'string') {
          const problem = unstorableText(key);
          if (problem) return { path: join(path, key), message: `key ${problem}` };
        }
        stack.push({ value: child, path: join(path, key), depth: depth + 1 });
      }
    }
  }
  return undefined;
}

/** "field: why" for a storage problem, naming the root when the value itself is at fault. */
export function describeStorageProblem(problem: StorageProblem, root: string): string {
  return `${problem.path || root}: ${problem.message}`;
}

/** Throws a VALIDATION error naming the first part of `value` that Postgres could not store. */
export function assertStorable(value: unknown, root: string): void {
  const problem = findUnstorable(value);
  if (problem) throw new DomainError('VALIDATION', describeStorageProblem(problem, root));
}
