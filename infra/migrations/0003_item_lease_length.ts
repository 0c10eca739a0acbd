import type { Knex } from 'knex';

/**
 * The lease length each item's workflow uses (its queue's setting when it was added), so the API
 * coalesces heartbeats by the item's own rule rather than the queue's current setting.
 * Null for items added before this column: the API then leaves coalescing to the workflow.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table queue_items add column reservation_timeout_ms integer check (reservation_timeout_ms > 0)');
}

export function down(): Promise<void> {
  return Promise.reject(new Error('Migrations are forward-only.'));
}
