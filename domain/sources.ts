/** What can be labelled (DESIGN.md §3), identified by (type, external id) within a workspace. */
export const SOURCE_TYPES = ['trace', 'observation_span', 'trace_session', 'dataset_row', 'call_execution', 'prototype_run'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];
