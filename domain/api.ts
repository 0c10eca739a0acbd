import { z } from 'zod';
import { LABEL_KEY, LABEL_TYPES } from './labels.js';
import { SCORE_SOURCES, WORKSPACE_ROLES } from './principals.js';
import { SOURCE_TYPES } from './sources.js';

/**
 * The API contract: request and response schemas of every endpoint. The routes validate with
 * these and the OpenAPI document is generated from them, so the two cannot drift apart.
 */

export const MAX_BATCH = 1000;

const id = z.string().describe('UUID');
const timestamp = z.string().describe('ISO 8601 timestamp');
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
  admin: z.strictObject({ email: z.email(), name: z.string().trim().min(1).max(200) }).optional(),
});
export const workspace = z.object({ id, name: z.string(), createdAt: timestamp });
export const createWorkspaceResponse = z.object({
  workspace: z.object({ id, name: z.string() }),
  admin: z.object({ id }),
  apiKey: z.string(),
});

export const createUserBody = z.strictObject({
  email: z.email(),
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
  .refine((b) => !(b.userId && b.role), { message: 'role applies only to a service key (without userId): a user key has its user\'s role', path: ['role'] });
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
  label: z.string().min(1).describe('label id or key'),
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
  sourceId: z.string().optional(),
  label: z.string().optional(),
  annotatorId: z.string().optional(),
  queueId: id.optional(),
  scoreSource: z.enum(SCORE_SOURCES).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
});

// The trace/span human-review API of the second seed (v2). Accepts what its clients send.
export const V2_MAX_STRING = 200;
const v2Value = z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]);
const v2Metadata = z
  .looseObject({
    identityId: z.string().min(1).optional(),
    identity_id: z.string().min(1).optional(),
    source: z.string().optional(),
    reviewerId: z.string().optional(),
    reviewer_id: z.string().optional(),
  })
  .transform((m) => ({
    identityId: m.identityId ?? m.identity_id,
    source: m.source,
    reviewerId: m.reviewerId ?? m.reviewer_id,
  }));
export const v2Annotation = z.union([
  z.looseObject({ key: z.string().min(1), value: v2Value }),
  z.looseObject({
    parentAnnotationId: z.string().min(1).optional(),
    parent_annotation_id: z.string().min(1).optional(),
    value: v2Value,
    explanation: z.string().optional(),
  }).refine((a) => a.parentAnnotationId ?? a.parent_annotation_id, { message: 'each annotation needs a key' }),
]);
export const v2CreateBody = z.looseObject({
  annotations: z.array(v2Annotation).min(1, 'annotations needs 1 to 10 entries').max(10, 'annotations needs 1 to 10 entries'),
  metadata: v2Metadata.optional(),
});
export const v2DeleteBody = z
  .looseObject({
    keys: z.array(z.string().min(1)).max(10, 'keys needs 1 to 10 entries').optional(),
    parentAnnotationIds: z.array(z.string()).max(10).optional(),
    parent_annotation_ids: z.array(z.string()).max(10).optional(),
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
