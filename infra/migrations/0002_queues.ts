import type { Knex } from 'knex';

/** Queues, their items (the workflow's read model), timelines, idempotency, results (DESIGN.md §3–§4). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('queues', (t) => {
    t.uuid('id').primary();
    t.uuid('workspace_id').notNullable().references('workspaces.id');
    t.text('name').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.text('instructions').notNullable().defaultTo('');
    t.text('assignment_strategy').notNullable().defaultTo('manual').checkIn(['manual', 'round_robin', 'load_balanced'], 'queues_strategy_check');
    t.integer('annotations_required').notNullable().defaultTo(1);
    t.integer('reservation_timeout_seconds').notNullable().defaultTo(1800);
    t.boolean('requires_review').notNullable().defaultTo(false);
    t.text('status').notNullable().defaultTo('draft').checkIn(['draft', 'active', 'paused', 'completed'], 'queues_status_check');
    // Round-robin position, advanced under this row's lock by the assignment activity.
    t.integer('rotation_cursor').notNullable().defaultTo(0);
    t.timestamp('deleted_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['workspace_id', 'id']);
  });
  await knex.raw('alter table queues add constraint queues_annotations_required_range check (annotations_required between 1 and 10)');
  await knex.raw('alter table queues add constraint queues_reservation_timeout_positive check (reservation_timeout_seconds between 1 and 604800)');

  await knex.schema.createTable('queue_labels', (t) => {
    t.uuid('queue_id').notNullable().references('queues.id');
    t.uuid('label_id').notNullable().references('labels.id');
    t.boolean('required').notNullable().defaultTo(true);
    t.integer('position').notNullable();
    t.primary(['queue_id', 'label_id']);
  });

  await knex.schema.createTable('queue_members', (t) => {
    t.uuid('queue_id').notNullable().references('queues.id');
    t.uuid('principal_id').notNullable().references('principals.id');
    t.specificType('roles', 'text[]').notNullable();
    t.primary(['queue_id', 'principal_id']);
  });
  await knex.raw(
    `alter table queue_members add constraint queue_members_roles_check check (cardinality(roles) > 0 and roles <@ array['annotator','reviewer','manager']::text[])`,
  );

  await knex.schema.createTable('queue_items', (t) => {
    t.uuid('id').primary();
    t.uuid('workspace_id').notNullable();
    t.uuid('queue_id').notNullable();
    t.uuid('source_id').notNullable();
    t.integer('priority').notNullable().defaultTo(0);
    t.text('status')
      .notNullable()
      .defaultTo('pending')
      .checkIn(['pending', 'in_progress', 'pending_review', 'changes_requested', 'completed', 'skipped', 'cancelled'], 'queue_items_status_check');
    // The workflow's snapshot version: the read model only ever moves forward.
    t.integer('version').notNullable().defaultTo(0);
    t.integer('seats_required').notNullable();
    t.integer('seats_occupied').notNullable().defaultTo(0);
    t.integer('submitted_count').notNullable().defaultTo(0);
    t.specificType('reserved_by', 'text[]').notNullable().defaultTo('{}');
    t.specificType('assigned_to', 'text[]').notNullable().defaultTo('{}');
    t.specificType('submitted_by', 'text[]').notNullable().defaultTo('{}');
    t.specificType('rework_for', 'text[]').notNullable().defaultTo('{}');
    t.specificType('skipped_by', 'text[]').notNullable().defaultTo('{}');
    t.jsonb('seats').notNullable().defaultTo('[]');
    t.jsonb('review').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('closed_at', { useTz: true });
    t.foreign(['workspace_id', 'queue_id']).references(['workspace_id', 'id']).inTable('queues');
    t.foreign(['workspace_id', 'source_id']).references(['workspace_id', 'id']).inTable('sources');
    t.unique(['queue_id', 'source_id']);
    t.index(['queue_id', 'status', 'priority']);
  });
  await knex.raw('alter table queue_items add constraint queue_items_no_over_collection check (seats_occupied <= seats_required)');
  await knex.raw('alter table scores add constraint scores_queue_item_fk foreign key (queue_item_id) references queue_items(id)');

  // One row per (item, turn): a retried assignment activity finds its earlier answer.
  await knex.schema.createTable('assignment_turns', (t) => {
    t.uuid('item_id').notNullable().references('queue_items.id');
    t.integer('turn').notNullable();
    t.uuid('queue_id').notNullable().references('queues.id');
    t.uuid('annotator_id');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['item_id', 'turn']);
    t.index(['queue_id', 'annotator_id']);
  });

  await knex.schema.createTable('item_events', (t) => {
    t.bigIncrements('id');
    t.uuid('item_id').notNullable().references('queue_items.id');
    t.text('dedupe_key').notNullable().unique();
    t.text('event').notNullable();
    t.text('actor_id');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.timestamp('at', { useTz: true }).notNullable();
    t.index(['item_id', 'id']);
  });

  await knex.schema.createTable('submissions', (t) => {
    t.text('annotator_id').notNullable();
    t.text('idempotency_key').notNullable();
    t.uuid('item_id').notNullable().references('queue_items.id');
    t.text('body_hash').notNullable();
    t.jsonb('response').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['annotator_id', 'idempotency_key']);
  });

  await knex.schema.createTable('item_results', (t) => {
    t.uuid('item_id').notNullable().references('queue_items.id');
    t.uuid('label_id').notNullable().references('labels.id');
    t.jsonb('value');
    t.text('method').notNullable().checkIn(['majority', 'mean', 'reviewer_override', 'single', 'none'], 'item_results_method_check');
    t.jsonb('provenance').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['item_id', 'label_id']);
  });
}

export function down(): Promise<void> {
  return Promise.reject(new Error('Migrations are forward-only.'));
}
