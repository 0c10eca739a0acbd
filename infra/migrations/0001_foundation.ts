import type { Knex } from 'knex';

/** Workspaces, principals, API keys, labels, sources and scores (DESIGN.md §3). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('workspaces', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  await knex.schema.createTable('principals', (t) => {
    t.uuid('id').primary();
    t.uuid('workspace_id').notNullable().references('workspaces.id');
    t.text('kind').notNullable().checkIn(['user', 'service'], 'principals_kind_check');
    t.text('email');
    t.text('name').notNullable();
    t.text('role').notNullable().checkIn(['admin', 'member'], 'principals_role_check');
    t.boolean('is_owner').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['workspace_id', 'id']);
  });
  await knex.raw(`alter table principals add constraint principals_user_has_email check ((kind = 'user') = (email is not null))`);
  await knex.raw('create unique index principals_email_unique on principals (workspace_id, lower(email)) where email is not null');
  await knex.raw('create unique index principals_one_owner on principals (is_owner) where is_owner');

  await knex.schema.createTable('api_keys', (t) => {
    t.uuid('id').primary();
    t.uuid('workspace_id').notNullable();
    t.uuid('principal_id').notNullable();
    t.text('name').notNullable();
    t.specificType('secret_hash', 'bytea').notNullable().unique();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true });
    t.foreign(['workspace_id', 'principal_id']).references(['workspace_id', 'id']).inTable('principals');
  });

  await knex.schema.createTable('labels', (t) => {
    t.uuid('id').primary();
    t.uuid('workspace_id').notNullable().references('workspaces.id');
    t.text('key').notNullable();
    t.text('name').notNullable();
    t.text('description').notNullable().defaultTo('');
    t.text('type').notNullable().checkIn(['categorical', 'numeric', 'text', 'star', 'thumbs'], 'labels_type_check');
    t.jsonb('settings').notNullable();
    t.boolean('allow_notes').notNullable().defaultTo(true);
    t.integer('version').notNullable().defaultTo(1).checkPositive('labels_version_positive');
    t.timestamp('archived_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['workspace_id', 'key']);
    t.unique(['workspace_id', 'id']);
  });
  // The type of a label never changes: scores already written depend on it.
  await knex.raw(`
    create function labels_type_immutable() returns trigger language plpgsql as $$
    begin
      if new.type <> old.type then raise exception 'label type is immutable' using errcode = 'check_violation'; end if;
      return new;
    end $$;
    create trigger labels_type_immutable before update on labels for each row execute function labels_type_immutable();
  `);

  await knex.schema.createTable('sources', (t) => {
    t.uuid('id').primary();
    t.uuid('workspace_id').notNullable().references('workspaces.id');
    t.text('type')
      .notNullable()
      .checkIn(['trace', 'observation_span', 'trace_session', 'dataset_row', 'call_execution', 'prototype_run'], 'sources_type_check');
    t.text('external_id').notNullable();
    t.text('trace_id');
    t.text('session_id');
    t.text('name');
    t.jsonb('input');
    t.jsonb('output');
    t.jsonb('messages');
    t.jsonb('attributes').notNullable().defaultTo('{}');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['workspace_id', 'type', 'external_id']);
    t.unique(['workspace_id', 'id']);
  });
  // A span belongs to exactly one trace.
  await knex.raw(`alter table sources add constraint sources_span_has_trace check (type <> 'observation_span' or trace_id is not null)`);

  await knex.schema.createTable('scores', (t) => {
    t.uuid('id').primary();
    t.uuid('workspace_id').notNullable();
    t.uuid('source_id').notNullable();
    t.uuid('label_id').notNullable();
    t.integer('label_version').notNullable();
    t.jsonb('value').notNullable();
    t.double('value_number');
    t.text('value_text');
    t.boolean('value_boolean');
    t.specificType('value_texts', 'text[]');
    t.text('annotator_id').notNullable();
    t.uuid('principal_id').notNullable();
    t.text('score_source').notNullable().checkIn(['human', 'api', 'automation', 'imported'], 'scores_score_source_check');
    t.text('notes');
    t.uuid('queue_item_id');
    t.integer('round');
    t.jsonb('metadata').notNullable().defaultTo('{}');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true });
    t.foreign(['workspace_id', 'source_id']).references(['workspace_id', 'id']).inTable('sources');
    t.foreign(['workspace_id', 'label_id']).references(['workspace_id', 'id']).inTable('labels');
    t.foreign(['workspace_id', 'principal_id']).references(['workspace_id', 'id']).inTable('principals');
    t.index(['workspace_id', 'source_id']);
    t.index(['workspace_id', 'label_id']);
  });
  await knex.raw(`alter table scores add constraint scores_round_with_item check ((queue_item_id is null) = (round is null))`);
  // Inline scores: one live value per (source, label, identity); re-scoring updates it.
  await knex.raw(`create unique index scores_inline_unique on scores (source_id, label_id, annotator_id) where queue_item_id is null and deleted_at is null`);
  // Queue scores: one per (item, label, annotator, round), whatever the code does.
  await knex.raw(`create unique index scores_queue_unique on scores (queue_item_id, label_id, annotator_id, round) where queue_item_id is not null`);
}

export function down(): Promise<void> {
  return Promise.reject(new Error('Migrations are forward-only.'));
}
