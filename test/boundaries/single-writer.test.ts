import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The item workflow is the only writer of item state (DESIGN.md §1, docs/adr/0002): every write to
 * these tables goes through the item repository (infra/repositories/items/). A static check over the
 * source: a knex call on one of these tables that inserts, updates or deletes, or raw SQL that does.
 */
const ITEM_TABLES = ['queue_items', 'item_events', 'item_results', 'submissions', 'assignment_turns'];
const root = path.join(import.meta.dirname, '../..');
const ITEM_REPOSITORY = 'infra/repositories/items/';
/** Migrations create the tables; they are not writers of item state. */
const EXEMPT = ['infra/migrations/'];
const SOURCE_DIRS = ['api', 'app', 'activities', 'domain', 'infra', 'worker', 'workflows', 'scripts', 'bench'];

function sourceFiles(dir: string): string[] {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) return [];
  return fs
    .readdirSync(full, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f).split(path.sep).join('/'));
}

const table = ITEM_TABLES.join('|');
const KNEX_TABLE = new RegExp(`\\(\\s*['"\`](${table})(\\s+as\\s+\\w+)?['"\`]\\s*\\)`);
const KNEX_WRITE = /\.(insert|update|delete|del|upsert|merge|truncate|increment|decrement)\s*\(/;
const RAW_WRITE = new RegExp(`\\b(insert\\s+into|update|delete\\s+from|truncate(\\s+table)?)\\s+(${table})\\b`, 'i');

/** The statements (split at `;`) of a source text that write one of the item tables. */
function itemTableWrites(source: string): string[] {
  return source.split(';').filter((statement) => (KNEX_TABLE.test(statement) && KNEX_WRITE.test(statement)) || RAW_WRITE.test(statement));
}

describe('one writer of item state', () => {
  it('recognises writes to the item tables in knex and in raw SQL (the check itself can fail)', () => {
    expect(itemTableWrites(`await db('queue_items').where({ id }).update({ status: 'completed' });`)).toHaveLength(1);
    expect(itemTableWrites(`await trx('item_events as e').insert(rows).onConflict('dedupe_key').ignore();`)).toHaveLength(1);
    expect(itemTableWrites('await db.raw(`delete from submissions where item_id = ?`, [id]);')).toHaveLength(1);
    expect(itemTableWrites(`await db.raw('UPDATE assignment_turns SET annotator_id = null');`)).toHaveLength(1);
    expect(itemTableWrites(`const rows = await db('queue_items').where({ queue_id }).select('id');`)).toHaveLength(0);
    expect(itemTableWrites(`await db('scores').where({ id }).update({ deleted_at: now });`)).toHaveLength(0);
  });

  const files = SOURCE_DIRS.flatMap(sourceFiles).filter((f) => !f.startsWith(ITEM_REPOSITORY) && !EXEMPT.some((e) => f.startsWith(e)));
  it('finds the source files it checks', () => expect(files.length).toBeGreaterThan(20));

  it.each(files)('%s does not write queue_items, item_events, item_results, submissions or assignment_turns', (file) => {
    expect(itemTableWrites(fs.readFileSync(path.join(root, file), 'utf8'))).toEqual([]);
  });
});
