import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ItemConfig, ItemState, ItemStatus, ReviewOverride, ReviewTarget } from '../domain/item.js';

/**
 * Wire names shared by workflows, worker and API. They are history: add, never rename.
 */
export const SEARCH_ATTRIBUTE_KEYS = {
  workspaceId: defineSearchAttributeKey('QuorumWorkspaceId', 'KEYWORD'),
  queueId: defineSearchAttributeKey('QuorumQueueId', 'KEYWORD'),
  itemStatus: defineSearchAttributeKey('QuorumItemStatus', 'KEYWORD'),
  assignees: defineSearchAttributeKey('QuorumAssignees', 'KEYWORD_LIST'),
} as const;

export const SEARCH_ATTRIBUTES = Object.fromEntries(Object.values(SEARCH_ATTRIBUTE_KEYS).map((k) => [k.name, k.type])) as Record<
  string,
  'KEYWORD' | 'KEYWORD_LIST'
>;

export const itemWorkflowId = (itemId: string) => `item-${itemId}`;

/** The failure type of a persist that Postgres refused for good (a data error): retrying cannot help. */
export const PERSIST_REJECTED = 'PersistRejected';

/** The item workflow's type (its export name in workflows/index.ts); the API starts it by this reference, never loading its code. */
export const ITEM_WORKFLOW_TYPE = 'itemWorkflow';
export type ItemWorkflow = (input: ItemWorkflowInput) => Promise<ItemWorkflowResult>;

export interface ItemWorkflowResult {
  status: ItemStatus;
}

export interface ItemWorkflowInput {
  itemId: string;
  workspaceId: string;
  queueId: string;
  config: ItemConfig;
  eligibleAnnotators: string[];
  /** Set when the workflow continues as new: the state carries over whole. */
  state?: ItemState;
}

export interface SeatResult {
  item: { id: string; status: ItemStatus };
  reservation: { expiresAt: string; round: number };
}

export interface SubmitAnnotation {
  labelId: string;
  labelVersion: number;
  value: string | number | boolean | string[];
  notes: string | null;
}

export interface SubmitRequest {
  annotatorId: string;
  idempotencyKey: string;
  bodyHash: string;
  annotations: SubmitAnnotation[];
}

export interface SubmitResult {
  item: { id: string; status: ItemStatus };
  round: number;
  scores: { id: string; labelId: string; value: SubmitAnnotation['value']; notes: string | null; round: number }[];
}

export interface ReviewRequest {
  reviewerId: string;
  action: 'approve' | 'request_changes';
  comment: string | null;
  targets: ReviewTarget[];
  overrides: ReviewOverride[];
}

/** Reserve, heartbeat, release and skip: an annotator acting on their own seat. */
export interface SeatRequest {
  annotatorId: string;
}

export interface AssignRequest {
  annotatorIds: string[];
  action: 'add' | 'remove' | 'set';
  actorId: string;
}

/** Reset and cancel: a manager acting on the item. */
export interface ActorRequest {
  actorId: string;
}

export interface ItemStatusResult {
  item: { id: string; status: ItemStatus };
}

// Updates: the caller needs an answer or a rejection.
export const reserveUpdate = defineUpdate<SeatResult, [SeatRequest]>('reserve');
export const heartbeatUpdate = defineUpdate<SeatResult, [SeatRequest]>('heartbeat');
export const releaseUpdate = defineUpdate<ItemStatusResult, [SeatRequest]>('release');
export const skipUpdate = defineUpdate<ItemStatusResult, [SeatRequest]>('skip');
export const submitUpdate = defineUpdate<SubmitResult, [SubmitRequest]>('submit');
export const reviewUpdate = defineUpdate<ItemStatusResult, [ReviewRequest]>('review');
export const assignUpdate = defineUpdate<{ added: string[]; removed: string[] }, [AssignRequest]>('assign');
export const resetUpdate = defineUpdate<ItemStatusResult, [ActorRequest]>('reset');
export const cancelUpdate = defineUpdate<ItemStatusResult, [ActorRequest]>('cancel');

// Signals: fire-and-forget notices from the API.
/** Who may annotate now, and who left (their seats are freed). */
export interface MembersChange {
  eligibleAnnotators: string[];
  removed: string[];
}

export const membersChangedSignal = defineSignal<[MembersChange]>('membersChanged');

export const stateQuery = defineQuery<ItemState>('state');
