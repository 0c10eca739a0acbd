import { z } from 'zod';
import { LABEL_KEY, LABEL_TYPES } from './labels.js';
import { SCORE_SOURCES, WORKSPACE_ROLES } from './principals.js';
import { SOURCE_TYPES } from './sources.js';
import { ITEM_STATUSES } from './item.js';
import { ASSIGNMENT_STRATEGIES, QUEUE_ROLES, QUEUE_STATUSES } from './queues.js';

/**
 * The API contract: request and response schemas of every endpoint. The routes validate with
 * these and the OpenAPI document is generated from them, so the two cannot drift apart.
 */

export const MAX_BATCH = 1000;

const id = z.string().describe('UUID');
const timestamp = z.string().describe('ISO 8601 timestamp');
/** A moment a client sends: ISO 8601 with an offset, in years 1–9999 (Postgres has no year 0). */
const instant = z.iso
  .datetime({ offset: true })
  .refine((v) => Number(v.slice(0, 4)) >= 1, 'must be in the years 0001 to 9999')
  .describe('ISO 8601 timestamp with offset');
const json = z.unknown();

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional(),
});

export const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), nextCursor: z.string().nullable() });

// Workspaces, users, keys
export const createWorkspaceBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  admin: z.strictObject({ email: z.email().max(254), name: z.string().trim().min(1).max(200) }).optional(),
});
export const workspace = z.object({ id, name: z.string(), createdAt: timestamp });
export const createWorkspaceResponse = z.object({
  workspace: z.object({ id, name: z.string() }),
  admin: z.object({ id }),
  apiKey: z.string(),
});

export const createUserBody = z.strictObject({
  email: z.email().max(254),
  name: z.string().trim().min(1).max(200),
  role: z.enum(WORKSPACE_ROLES).default('member'),
});
export const user = z.object({ id, email: z.string(), name: z.string(), role: z.enum(WORKSPACE_ROLES) });

export const createApiKeyBody = z
  .strictObject({
    userId: id.optional(),
    name: z.string().trim().min(1).max(200),
    role: z.enum(WORKSPACE_ROLES).optional(),
  })
  .refine((b) => !(b.userId && b.role), { message: "role applies only to a service key (without userId): a user key has its user's role", path: ['role'] });
export const apiKey = z.object({ id, name: z.string(), userId: id.nullable(), principalId: id, createdAt: timestamp, revokedAt: timestamp.nullable() });
export const createApiKeyResponse = z.object({ id, name: z.string(), userId: id.nullable(), principalId: id, key: z.string() });

// Labels
const labelFields = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5000).optional(),
  allowNotes: z.boolean().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
};
export const createLabelBody = z.strictObject({
  key: z.string().regex(LABEL_KEY, 'key must be a slug: lowercase letters, digits, _ or -, up to 64 characters').optional(),
  type: z.enum(LABEL_TYPES),
  ...labelFields,
});
export const updateLabelBody = z.strictObject({
  key: createLabelBody.shape.key,
  name: labelFields.name.optional(),
  description: labelFields.description,
  allowNotes: labelFields.allowNotes,
  settings: labelFields.settings,
  type: z.unknown().optional().describe('Immutable: any value is rejected'),
});
export const label = z.object({
  id,
  key: z.string(),
  name: z.string(),
  description: z.string(),
  type: z.enum(LABEL_TYPES),
  settings: z.record(z.string(), z.unknown()),
  allowNotes: z.boolean(),
  version: z.number().int(),
  archived: z.boolean(),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const labelListQuery = listQuery.extend({ includeArchived: z.enum(['true', 'false']).optional() });

// Sources
export const sourceBody = z.strictObject({
  type: z.enum(SOURCE_TYPES),
  id: z.string().min(1).max(256),
  traceId: z.string().min(1).max(256).optional(),
  sessionId: z.string().min(1).max(256).optional(),
  name: z.string().max(500).optional(),
  input: json.optional(),
  output: json.optional(),
  messages: z.array(json).optional(),
  attributes: z.record(z.string(), z.unknown()).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export const source = z.object({
  type: z.enum(SOURCE_TYPES),
  id: z.string(),
  traceId: z.string().nullable(),
  sessionId: z.string().nullable(),
  name: z.string().nullable(),
  input: json,
  output: json,
  messages: z.array(json).nullable(),
  attributes: z.record(z.string(), z.unknown()),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: timestamp,
  updatedAt: timestamp,
});
const entryError = z.object({ index: z.number().int(), code: z.string(), message: z.string() });
export const sourceBatchResponse = z.object({
  added: z.array(z.object({ index: z.number().int(), type: z.string(), id: z.string() })),
  updated: z.array(z.object({ index: z.number().int(), type: z.string(), id: z.string() })),
  duplicates: z.array(z.object({ index: z.number().int(), type: z.string(), id: z.string(), firstIndex: z.number().int() })),
  errors: z.array(entryError),
});

// Scores
export const scoreMetadata = z.strictObject({
  identityId: z.string().min(1).max(256).optional(),
  source: z.string().max(256).optional(),
  reviewerId: z.string().max(256).optional(),
});
export const createScoreBody = z.strictObject({
  sourceType: z.enum(SOURCE_TYPES),
  sourceId: z.string().min(1).max(256),
  label: z.string().min(1).max(256).describe('label id or key'),
  value: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]),
  notes: z.string().max(5000).optional(),
  scoreSource: z.enum(SCORE_SOURCES).optional(),
  metadata: scoreMetadata.optional(),
});
export const score = z.object({
  id,
  sourceType: z.enum(SOURCE_TYPES),
  sourceId: z.string(),
  labelId: id,
  labelKey: z.string(),
  labelVersion: z.number().int(),
  value: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]),
  annotatorId: z.string().describe('metadata.identityId when given, else the calling principal'),
  principalId: id.describe('the principal whose key wrote the score'),
  scoreSource: z.enum(SCORE_SOURCES),
  notes: z.string().nullable(),
  queueItemId: id.nullable(),
  round: z.number().int().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const scoreBulkResponse = z.object({
  added: z.array(z.object({ index: z.number().int(), id })),
  duplicates: z.array(z.object({ index: z.number().int(), firstIndex: z.number().int() })),
  errors: z.array(entryError),
});
export const scoreListQuery = listQuery.extend({
  sourceType: z.enum(SOURCE_TYPES).optional(),
  sourceId: z.string().max(256).optional(),
  label: z.string().max(256).optional(),
  annotatorId: z.string().max(256).optional(),
  queueId: id.optional(),
  scoreSource: z.enum(SCORE_SOURCES).optional(),
  since: instant.optional(),
  until: instant.optional(),
});

// The trace/span human-review API of the second seed (v2). Accepts what its clients send.
export const V2_MAX_STRING = 200;
const v2Value = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
const v2Metadata = z
  .looseObject({
    identityId: z.string().min(1).max(256).optional(),
    identity_id: z.string().min(1).max(256).optional(),
    source: z.string().max(256).optional(),
    reviewerId: z.string().max(256).optional(),
    reviewer_id: z.string().max(256).optional(),
  })
  .transform((m) => ({
    identityId: m.identityId ?? m.identity_id,
    source: m.source,
    reviewerId: m.reviewerId ?? m.reviewer_id,
  }));
export const v2Annotation = z.union([
  z.looseObject({ key: z.string().min(1).max(256), value: v2Value }),
  z
    .looseObject({
      parentAnnotationId: z.string().min(1).max(256).optional(),
      parent_annotation_id: z.string().min(1).max(256).optional(),
      value: v2Value,
      explanation: z.string().max(5000).optional(),
    })
    .refine((a) => a.parentAnnotationId ?? a.parent_annotation_id, { message: 'each annotation needs a key' }),
]);
export const v2CreateBody = z.looseObject({
  annotations: z.array(v2Annotation).min(1, 'annotations needs 1 to 10 entries').max(10, 'annotations needs 1 to 10 entries'),
  metadata: v2Metadata.optional(),
});
export const v2DeleteBody = z
  .looseObject({
    keys: z.array(z.string().min(1).max(256)).max(10, 'keys needs 1 to 10 entries').optional(),
    parentAnnotationIds: z.array(z.string().max(256)).max(10).optional(),
    parent_annotation_ids: z.array(z.string().max(256)).max(10).optional(),
    metadata: v2Metadata.optional(),
  })
  .refine((b) => (b.keys?.length ?? 0) + (b.parentAnnotationIds ?? b.parent_annotation_ids ?? []).length > 0, {
    message: 'keys needs 1 to 10 entries',
    path: ['keys'],
  });
export const v2Response = z.object({ success: z.boolean(), annotations: z.array(z.object({ id, key: z.string(), value: v2Value })).optional() });

// Health
export const healthResponse = z.object({ status: z.literal('ok') });
export const readyResponse = z.object({ status: z.literal('ok'), postgres: z.literal('ok'), temporal: z.literal('ok') });

// Queues
const queueLabelInput = z.strictObject({ label: z.string().min(1).max(256).describe('label id or key'), required: z.boolean().default(true) });
const queueMemberInput = z.strictObject({ userId: id, roles: z.array(z.enum(QUEUE_ROLES)).min(1, 'roles needs at least one of annotator, reviewer, manager') });
const queueSettingsFields = {
  description: z.string().max(5000).optional(),
  instructions: z.string().max(100_000).optional().describe('markdown'),
  assignmentStrategy: z.enum(ASSIGNMENT_STRATEGIES).optional(),
  annotationsRequired: z.int().min(1, 'annotationsRequired must be 1 to 10').max(10, 'annotationsRequired must be 1 to 10').optional(),
  reservationTimeoutSeconds: z.int().min(1).max(604_800).optional(),
  requiresReview: z.boolean().optional(),
  labels: z.array(queueLabelInput).max(50).optional(),
  members: z.array(queueMemberInput).max(1000).optional(),
};
export const createQueueBody = z.strictObject({ name: z.string().trim().min(1).max(200), ...queueSettingsFields });
export const updateQueueBody = z.strictObject({ name: z.string().trim().min(1).max(200).optional(), ...queueSettingsFields });
export const queueStatusBody = z.strictObject({ status: z.enum(QUEUE_STATUSES) });
export const queue = z.object({
  id,
  name: z.string(),
  description: z.string(),
  instructions: z.string(),
  assignmentStrategy: z.enum(ASSIGNMENT_STRATEGIES),
  annotationsRequired: z.number().int(),
  reservationTimeoutSeconds: z.number().int(),
  requiresReview: z.boolean(),
  status: z.enum(QUEUE_STATUSES),
  labels: z.array(z.object({ labelId: id, key: z.string(), name: z.string(), type: z.string(), required: z.boolean() })),
  members: z.array(z.object({ userId: id, roles: z.array(z.enum(QUEUE_ROLES)) })),
  createdAt: timestamp,
  updatedAt: timestamp,
});

// Items
export const addItemsBody = z.strictObject({
  items: z
    .array(
      z.strictObject({ sourceType: z.enum(SOURCE_TYPES), sourceId: z.string().min(1).max(256), priority: z.int().min(-1_000_000).max(1_000_000).optional() }),
    )
    .min(1, `items needs 1 to ${MAX_BATCH} entries`)
    .max(MAX_BATCH, `items needs 1 to ${MAX_BATCH} entries`),
});
export const addItemsResponse = z.object({
  added: z.array(z.object({ index: z.number().int(), itemId: id, sourceType: z.string(), sourceId: z.string() })),
  duplicates: z.array(z.object({ index: z.number().int(), sourceType: z.string(), sourceId: z.string() })),
  errors: z.array(entryError),
});
export const itemListQuery = listQuery.extend({
  status: z.enum(ITEM_STATUSES).optional(),
  assignee: z.string().max(256).optional(),
  sourceType: z.enum(SOURCE_TYPES).optional(),
});
const seat = z.object({ annotatorId: z.string(), state: z.string(), round: z.number().int(), expiresAt: z.string().nullable() });
export const itemSummary = z.object({
  id,
  queueId: id,
  sourceType: z.enum(SOURCE_TYPES),
  sourceId: z.string(),
  priority: z.number().int(),
  status: z.enum(ITEM_STATUSES),
  annotationsRequired: z.number().int(),
  submittedCount: z.number().int(),
  seats: z.array(seat),
  createdAt: timestamp,
  updatedAt: timestamp,
});
export const itemDetail = z.object({
  item: itemSummary,
  source,
  labels: queue.shape.labels,
  annotations: z.array(score).describe('values the caller may see under the blind rule'),
  reservation: z.object({ expiresAt: timestamp, round: z.number().int() }).nullable().describe("the caller's live reservation"),
  review: z.record(z.string(), z.unknown()),
  results: z.array(z.object({ labelId: id, value: z.unknown(), method: z.string(), provenance: z.record(z.string(), z.unknown()) })),
});
export const assignBody = z.strictObject({
  itemIds: z.array(id).min(1).max(MAX_BATCH),
  userIds: z.array(id).max(10),
  action: z.enum(['add', 'set', 'remove']),
});
export const assignResponse = z.object({
  results: z.array(z.object({ itemId: id, added: z.array(z.string()), removed: z.array(z.string()) })),
  errors: z.array(z.object({ itemId: z.string(), code: z.string(), message: z.string() })),
});
export const submitBody = z.strictObject({
  annotations: z
    .array(
      z.strictObject({
        label: z.string().min(1).max(256).describe('label id or key'),
        value: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]),
        notes: z.string().max(5000).optional(),
      }),
    )
    .min(1, 'annotations needs at least one entry')
    .max(50),
});
export const submitResponse = z.object({
  item: z.object({ id, status: z.enum(ITEM_STATUSES) }),
  round: z.number().int(),
  scores: z.array(z.object({ id, labelId: id, value: z.unknown(), notes: z.string().nullable(), round: z.number().int() })),
});
export const reviewBody = z
  .strictObject({
    action: z.enum(['approve', 'request_changes']),
    comment: z.string().max(5000).optional(),
    targets: z
      .array(z.strictObject({ label: z.string().min(1).max(256).optional(), annotatorId: z.string().min(1).max(256), comment: z.string().max(5000) }))
      .max(100)
      .optional(),
    overrides: z
      .array(z.strictObject({ label: z.string().min(1).max(256), value: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]) }))
      .max(50)
      .optional()
      .describe("with approve: the resolved value of these labels, instead of the annotators' majority or mean"),
  })
  .refine((b) => !(b.overrides?.length && b.action !== 'approve'), { message: 'overrides go with action approve', path: ['overrides'] });
export const itemStatusResponse = z.object({ item: z.object({ id, status: z.enum(ITEM_STATUSES) }) });
export const reservationResponse = z.object({
  item: z.object({ id, status: z.enum(ITEM_STATUSES) }),
  reservation: z.object({ expiresAt: timestamp, round: z.number().int() }),
});
export const nextQuery = z.strictObject({ mode: z.enum(['annotate', 'review']).default('annotate') });
export const historyResponse = z.object({
  data: z.array(z.object({ at: timestamp, event: z.string(), actorId: z.string().nullable(), details: z.record(z.string(), z.unknown()) })),
});
const annotatorProgress = z.object({
  annotatorId: z.string(),
  assigned: z.number().int(),
  reserved: z.number().int(),
  submitted: z.number().int(),
  skipped: z.number().int(),
  expired: z.number().int(),
  lastActiveAt: timestamp.nullable(),
});
export const progressResponse = z.object({
  total: z.number().int(),
  byStatus: z.record(z.string(), z.number().int()),
  annotators: z.array(annotatorProgress),
  mine: annotatorProgress,
});
