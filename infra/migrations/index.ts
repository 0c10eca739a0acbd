import type { Knex } from 'knex';
import * as foundation from './0001_foundation.js';
import * as queues from './0002_queues.js';
import * as itemLeaseLength from './0003_item_lease_length.js';

/** Every migration, in order. Forward-only: add a file, never edit one that has shipped. */
const MIGRATIONS: Record<string, Knex.Migration> = {
  '0001_foundation': foundation,
  '0002_queues': queues,
  '0003_item_lease_length': itemLeaseLength,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: () => Promise.resolve(Object.keys(MIGRATIONS)),
  getMigrationName: (name) => name,
  getMigration: (name) => Promise.resolve(MIGRATIONS[name]!),
};

export async function migrateLatest(knex: Knex): Promise<void> {
  await knex.migrate.latest({ migrationSource, tableName: 'knex_migrations' });
}
