import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Wire names shared by workflows, worker and API. They are history: add, never rename.
 */
export const SEARCH_ATTRIBUTE_KEYS = {
  workspaceId: defineSearchAttributeKey('QuorumWorkspaceId', 'KEYWORD'),
  queueId: defineSearchAttributeKey('QuorumQueueId', 'KEYWORD'),
  itemStatus: defineSearchAttributeKey('QuorumItemStatus', 'KEYWORD'),
  assignees: defineSearchAttributeKey('QuorumAssignees', 'KEYWORD_LIST'),
} as const;

export const SEARCH_ATTRIBUTES = Object.fromEntries(Object.values(SEARCH_ATTRIBUTE_KEYS).map((k) => [k.name, k.type])) as Record<string, 'KEYWORD' | 'KEYWORD_LIST'>;
