import { randomUUID } from 'node:crypto';
import { Orq } from '@orq-ai/node';
import { OrqError } from '@orq-ai/node/models/errors/orqerror.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, createWorkspaceFixture, startTestSystem, type ApiClient, type TestSystem } from './helpers/system.js';

/**
 * The trace/span human-review API of the second seed (docs "Add Human Reviews"), served as is at
 * POST|DELETE /v2/traces/{trace_id}/spans/{span_id}/annotation (DESIGN.md §5).
 */

type Fixture = Awaited<ReturnType<typeof createWorkspaceFixture>>;

const uid = () => randomUUID().slice(0, 12);
const annotationPath = (traceId: string, spanId: string) => `/v2/traces/${traceId}/spans/${spanId}/annotation`;
const json = { 'content-type': 'application/json' };

const DEFECTS = ['grammatical', 'spelling', 'hallucination', 'repetition', 'inappropriate', 'off_topic', 'incompleteness', 'ambiguity'];

/** The "human reviews" the seed's examples use, plus a default-range one for its out-of-range row. */
const HUMAN_REVIEWS = [
  { key: 'rating', name: 'Rating', type: 'categorical', settings: { options: ['good', 'bad'] } },
  { key: 'defects', name: 'Defects', type: 'categorical', settings: { options: DEFECTS, multiChoice: true } },
  { key: 'confidence_score', name: 'Confidence score', type: 'numeric', settings: { min: 0, max: 1, step: 0.01 } },
  { key: 'correction', name: 'Correction', type: 'text', settings: { correction: true } },
  { key: 'categories', name: 'Categories', type: 'categorical', settings: { options: ['helpful', 'accurate', 'concise', 'verbose'], multiChoice: true } },
  { key: 'quality', name: 'Quality', type: 'numeric' },
];

describe('the human-review (trace/span annotation) API', () => {
  let system: TestSystem;
  let ws: Fixture;
  /** The ORQ_API_KEY of the examples: a service key, which may relay end-user feedback (metadata.identityId). */
  let serviceKey: string;
  let servicePrincipalId: string;
  let service: ApiClient;

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
    for (const review of HUMAN_REVIEWS) {
      const res = await ws.admin.post('/api/v1/labels', review);
      if (res.status !== 201) throw new Error(`label ${review.key}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    const key = await ws.admin.post('/api/v1/api-keys', { name: 'orq sdk' });
    if (key.status !== 201) throw new Error(`api key: ${key.status} ${JSON.stringify(key.body)}`);
    serviceKey = key.body.key;
    servicePrincipalId = key.body.principalId;
    service = apiClient(system.url, serviceKey);
  });
  afterAll(async () => system?.close());

  /** A fresh span (and trace id) registered as a source of the workspace. */
  async function newSpan(client: ApiClient = ws.admin): Promise<{ traceId: string; spanId: string }> {
    const traceId = `trace-${uid()}`;
    const spanId = `span-${uid()}`;
    const res = await client.post('/api/v1/sources', [{ type: 'observation_span', id: spanId, traceId }]);
    expect(res.status).toBe(200);
    expect(res.body.added).toEqual([{ index: 0, type: 'observation_span', id: spanId }]);
    return { traceId, spanId };
  }

  /** Sends a body exactly as the seed's cURL examples write it. */
  function curl(method: 'POST' | 'DELETE', traceId: string, spanId: string, body: string, key = serviceKey) {
    return apiClient(system.url, key).raw(method, annotationPath(traceId, spanId), body, json);
  }

  async function scoresOn(spanId: string): Promise<any[]> {
    const res = await ws.admin.get(`/api/v1/scores?sourceType=observation_span&sourceId=${spanId}&limit=500`);
    expect(res.status).toBe(200);
    return res.body.data;
  }

  /** label key → value, for one annotator. */
  async function valuesOn(spanId: string, annotatorId: string): Promise<Record<string, unknown>> {
    const scores = await scoresOn(spanId);
    return Object.fromEntries(scores.filter((s) => s.annotatorId === annotatorId).map((s) => [s.labelKey, s.value]));
  }

  async function scoreRowCount(): Promise<number> {
    const row = await system.db('scores').where({ workspace_id: ws.workspaceId }).count({ n: '*' }).first();
    return Number(row!.n);
  }

  describe('the documented examples, sent as the cURL bodies are written', () => {
    it('adds a quality rating', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        `{
              "annotations": [
                {
                  "key": "rating",
                  "value": "good"
                }
              ]
            }`,
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true, annotations: [{ id: expect.any(String), key: 'rating', value: 'good' }] });
      const scores = await scoresOn(spanId);
      expect(scores).toHaveLength(1);
      expect(scores[0]).toMatchObject({
        id: res.body.annotations[0].id,
        sourceType: 'observation_span',
        sourceId: spanId,
        labelKey: 'rating',
        labelVersion: 1,
        value: 'good',
        annotatorId: servicePrincipalId,
        principalId: servicePrincipalId,
        scoreSource: 'human',
        queueItemId: null,
        round: null,
        metadata: {},
      });
    });

    it('adds multiple defects to an array-type (multiChoice) human review', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        `{
              "annotations": [
                {
                  "key": "defects",
                  "value": ["grammatical", "spelling", "ambiguity"]
                }
              ]
            }`,
      );
      expect(res.status).toBe(200);
      expect(res.body.annotations).toEqual([{ id: expect.any(String), key: 'defects', value: ['grammatical', 'spelling', 'ambiguity'] }]);
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({ defects: ['grammatical', 'spelling', 'ambiguity'] });
      const row = await system.db('scores').where({ id: res.body.annotations[0].id }).first();
      expect(row.value_texts).toEqual(['grammatical', 'spelling', 'ambiguity']);
    });

    it('adds a numeric score (0.95 on a 0.01 grid) attributed to metadata.identityId', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        `{
              "annotations": [
                {
                  "key": "confidence_score",
                  "value": 0.95
                }
              ],
              "metadata": {
                "identityId": "user-123"
              }
            }`,
      );
      expect(res.status).toBe(200);
      expect(res.body.annotations).toEqual([{ id: expect.any(String), key: 'confidence_score', value: 0.95 }]);
      const scores = await scoresOn(spanId);
      expect(scores).toHaveLength(1);
      expect(scores[0]).toMatchObject({
        labelKey: 'confidence_score',
        value: 0.95,
        annotatorId: 'user-123',
        principalId: servicePrincipalId,
        metadata: { identityId: 'user-123' },
      });
      const row = await system.db('scores').where({ id: scores[0].id }).first();
      expect(row.value_number).toBe(0.95);
    });

    it('adds a text correction', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        `{
              "annotations": [
                {
                  "key": "correction",
                  "value": "The correct answer should emphasize scalability and fault tolerance."
                }
              ]
            }`,
      );
      expect(res.status).toBe(200);
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({
        correction: 'The correct answer should emphasize scalability and fault tolerance.',
      });
    });

    it('batch-adds multiple annotations', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        `{
              "annotations": [
                {
                  "key": "rating",
                  "value": "good"
                },
                {
                  "key": "confidence_score",
                  "value": 0.92
                },
                {
                  "key": "categories",
                  "value": ["helpful", "accurate", "concise"]
                }
              ]
            }`,
      );
      expect(res.status).toBe(200);
      expect(res.body.annotations.map((a: { key: string; value: unknown }) => [a.key, a.value])).toEqual([
        ['rating', 'good'],
        ['confidence_score', 0.92],
        ['categories', ['helpful', 'accurate', 'concise']],
      ]);
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({
        rating: 'good',
        confidence_score: 0.92,
        categories: ['helpful', 'accurate', 'concise'],
      });
    });

    it("removes annotations: only the caller identity's values for those keys", async () => {
      const { traceId, spanId } = await newSpan();
      const mine = await service.post(annotationPath(traceId, spanId), {
        annotations: [
          { key: 'rating', value: 'good' },
          { key: 'defects', value: ['spelling'] },
          { key: 'confidence_score', value: 0.5 },
        ],
      });
      expect(mine.status).toBe(200);
      const endUser = await service.post(annotationPath(traceId, spanId), {
        annotations: [
          { key: 'rating', value: 'bad' },
          { key: 'defects', value: ['hallucination'] },
        ],
        metadata: { identityId: 'user-123' },
      });
      expect(endUser.status).toBe(200);
      const adminOwn = await ws.admin.post(annotationPath(traceId, spanId), { annotations: [{ key: 'rating', value: 'good' }] });
      expect(adminOwn.status).toBe(200);

      const res = await curl(
        'DELETE',
        traceId,
        spanId,
        `{
              "keys": ["rating", "defects"]
            }`,
      );
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });

      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({ confidence_score: 0.5 });
      expect(await valuesOn(spanId, 'user-123')).toEqual({ rating: 'bad', defects: ['hallucination'] });
      expect(await valuesOn(spanId, ws.adminId)).toEqual({ rating: 'good' });

      // The end user's values go with a DELETE that names that identity.
      const theirs = await service.delete(annotationPath(traceId, spanId), { keys: ['rating', 'defects'], metadata: { identityId: 'user-123' } });
      expect(theirs.status).toBe(200);
      expect(await valuesOn(spanId, 'user-123')).toEqual({});
      expect(await valuesOn(spanId, ws.adminId)).toEqual({ rating: 'good' });
    });

    it('deleting keys that have no values still answers 200', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl('DELETE', traceId, spanId, '{"keys": ["rating", "defects"]}');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ success: true });
    });

    it('re-annotating a key replaces the value for that identity (upsert), and a key repeated in a batch keeps the last', async () => {
      const { traceId, spanId } = await newSpan();
      expect((await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"}]}')).status).toBe(200);
      expect((await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"bad"}]}')).status).toBe(200);
      expect(await scoresOn(spanId)).toHaveLength(1);
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({ rating: 'bad' });

      const repeated = await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"},{"key":"rating","value":"bad"}]}');
      expect(repeated.status).toBe(200);
      expect(repeated.body.annotations).toEqual([{ id: expect.any(String), key: 'rating', value: 'bad' }]);
      expect(await scoresOn(spanId)).toHaveLength(1);
    });

    it('a user key without metadata annotates as its own principal', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"}]}', ws.memberKey);
      expect(res.status).toBe(200);
      const [score] = await scoresOn(spanId);
      expect(score).toMatchObject({ annotatorId: ws.memberId, principalId: ws.memberId, value: 'good' });
    });
  });

  describe('the documented errors, to the letter, in the error envelope, writing nothing', () => {
    it('404 when the human review key does not exist in the workspace', async () => {
      const empty = await createWorkspaceFixture(system);
      const { traceId, spanId } = await newSpan(empty.admin);
      const res = await empty.admin.raw('POST', annotationPath(traceId, spanId), '{"annotations":[{"key":"rating","value":"good"}]}', json);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        error: { code: 'NOT_FOUND', message: `The human review with key "rating" for workspace ${empty.workspaceId} was not found.` },
      });
      const rows = await system.db('scores').where({ workspace_id: empty.workspaceId });
      expect(rows).toHaveLength(0);
    });

    it('404 for an unknown key in a batch, writing none of the valid ones', async () => {
      const { traceId, spanId } = await newSpan();
      const before = await scoreRowCount();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        JSON.stringify({
          annotations: [
            { key: 'rating', value: 'good' },
            { key: 'helpfulness', value: 'yes' },
          ],
        }),
      );
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        error: { code: 'NOT_FOUND', message: `The human review with key "helpfulness" for workspace ${ws.workspaceId} was not found.` },
      });
      expect(await scoreRowCount()).toBe(before);
      expect(await scoresOn(spanId)).toEqual([]);
    });

    it('404 for an archived human review', async () => {
      const key = `archived_${uid().replace(/-/g, '')}`;
      expect((await ws.admin.post('/api/v1/labels', { key, name: 'Archived', type: 'thumbs' })).status).toBe(201);
      expect((await ws.admin.delete(`/api/v1/labels/${key}`)).status).toBe(200);
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, JSON.stringify({ annotations: [{ key, value: true }] }));
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe(`The human review with key "${key}" for workspace ${ws.workspaceId} was not found.`);
    });

    it('404 for an unknown key on DELETE, removing nothing', async () => {
      const { traceId, spanId } = await newSpan();
      expect((await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"}]}')).status).toBe(200);
      const res = await curl('DELETE', traceId, spanId, '{"keys":["rating","nonexistent"]}');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        error: { code: 'NOT_FOUND', message: `The human review with key "nonexistent" for workspace ${ws.workspaceId} was not found.` },
      });
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({ rating: 'good' });
    });

    it('404 when the span does not exist', async () => {
      const traceId = `trace-${uid()}`;
      const spanId = `span-${uid()}`;
      const before = await scoreRowCount();
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"}]}');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: `Span with id ${spanId} for workspace ${ws.workspaceId} was not found.` } });
      expect(await scoreRowCount()).toBe(before);

      const del = await curl('DELETE', traceId, spanId, '{"keys":["rating"]}');
      expect(del.status).toBe(404);
      expect(del.body).toEqual({ error: { code: 'NOT_FOUND', message: `Span with id ${spanId} for workspace ${ws.workspaceId} was not found.` } });
    });

    it('404 when the span exists but under another trace id', async () => {
      const { spanId } = await newSpan();
      const otherTrace = `trace-${uid()}`;
      const before = await scoreRowCount();
      const res = await curl('POST', otherTrace, spanId, '{"annotations":[{"key":"rating","value":"good"}]}');
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: { code: 'NOT_FOUND', message: `Span with id ${spanId} for workspace ${ws.workspaceId} was not found.` } });
      expect(await scoreRowCount()).toBe(before);
      expect((await curl('DELETE', otherTrace, spanId, '{"keys":["rating"]}')).status).toBe(404);
    });

    it("404 for another workspace's span", async () => {
      const other = await createWorkspaceFixture(system);
      const { traceId, spanId } = await newSpan(other.admin);
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"}]}');
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe(`Span with id ${spanId} for workspace ${ws.workspaceId} was not found.`);
    });

    it('404 when the id names a trace source, not a span', async () => {
      const traceId = `trace-${uid()}`;
      expect((await ws.admin.post('/api/v1/sources', [{ type: 'trace', id: traceId }])).status).toBe(200);
      const res = await curl('POST', traceId, traceId, '{"annotations":[{"key":"rating","value":"good"}]}');
      expect(res.status).toBe(404);
      expect(res.body.error.message).toBe(`Span with id ${traceId} for workspace ${ws.workspaceId} was not found.`);
    });

    it('400 for a value that is not one of the options', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"poor"}]}');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'VALIDATION', message: 'Invalid value: poor. Valid options are: good, bad.' } });
      expect(await scoresOn(spanId)).toEqual([]);
    });

    it('400 for a number out of the default range [0, 10]', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"quality","value":15}]}');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'VALIDATION', message: 'Value 15 is out of range [0, 10].' } });
      expect(await scoresOn(spanId)).toEqual([]);
      expect((await curl('POST', traceId, spanId, '{"annotations":[{"key":"quality","value":10}]}')).status).toBe(200);
    });

    it('400 for a string over 200 characters, although the label itself allows 5000', async () => {
      const label = await ws.admin.get('/api/v1/labels/correction');
      expect(label.body.settings.maxLength).toBe(5000);
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, JSON.stringify({ annotations: [{ key: 'correction', value: 'x'.repeat(201) }] }));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'VALIDATION', message: 'String value exceeds maximum length of 200 characters.' } });
      expect(await scoresOn(spanId)).toEqual([]);

      const atLimit = await curl('POST', traceId, spanId, JSON.stringify({ annotations: [{ key: 'correction', value: 'x'.repeat(200) }] }));
      expect(atLimit.status).toBe(200);
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({ correction: 'x'.repeat(200) });
    });

    it('a batch with one invalid annotation writes nothing (all-or-nothing)', async () => {
      const { traceId, spanId } = await newSpan();
      const before = await scoreRowCount();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        JSON.stringify({
          annotations: [
            { key: 'rating', value: 'good' },
            { key: 'confidence_score', value: 0.92 },
            { key: 'defects', value: ['grammatical', 'typo'] },
          ],
          metadata: { identityId: 'user-123' },
        }),
      );
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: { code: 'VALIDATION', message: `Invalid value: typo. Valid options are: ${DEFECTS.join(', ')}.` },
      });
      expect(await scoreRowCount()).toBe(before);
      expect(await scoresOn(spanId)).toEqual([]);
    });

    it('an invalid batch leaves earlier values on the span untouched', async () => {
      const { traceId, spanId } = await newSpan();
      expect((await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"},{"key":"quality","value":3}]}')).status).toBe(200);
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"bad"},{"key":"quality","value":15}]}');
      expect(res.status).toBe(400);
      expect(res.body.error.message).toBe('Value 15 is out of range [0, 10].');
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({ rating: 'good', quality: 3 });
    });

    it('400 for a value off the step grid (0.955 on 0.01)', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"confidence_score","value":0.955}]}');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: { code: 'VALIDATION', message: 'Value 0.955 is not on the grid of step 0.01 from 0.' } });
      expect(await scoresOn(spanId)).toEqual([]);
    });
  });

  describe('constraints', () => {
    it('400 for 11 annotations (up to 10 per request), writing nothing; 10 are accepted', async () => {
      const { traceId, spanId } = await newSpan();
      const eleven = Array.from({ length: 11 }, () => ({ key: 'rating', value: 'good' }));
      const res = await curl('POST', traceId, spanId, JSON.stringify({ annotations: eleven }));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
      expect(res.body.error.message).toContain('annotations needs 1 to 10 entries');
      expect(await scoresOn(spanId)).toEqual([]);

      const ten = await curl('POST', traceId, spanId, JSON.stringify({ annotations: eleven.slice(1) }));
      expect(ten.status).toBe(200);
    });

    it('400 for no annotations', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, '{"annotations":[]}');
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain('annotations needs 1 to 10 entries');
    });

    it('400 for 11 keys on DELETE (up to 10), removing nothing', async () => {
      const { traceId, spanId } = await newSpan();
      expect((await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"}]}')).status).toBe(200);
      const res = await curl('DELETE', traceId, spanId, JSON.stringify({ keys: Array.from({ length: 11 }, () => 'rating') }));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
      expect(res.body.error.message).toContain('keys needs 1 to 10 entries');
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({ rating: 'good' });
      const none = await curl('DELETE', traceId, spanId, '{"keys":[]}');
      expect(none.status).toBe(400);
    });

    it('accepts metadata in snake_case (identity_id, reviewer_id) like camelCase', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await curl(
        'POST',
        traceId,
        spanId,
        JSON.stringify({
          annotations: [{ key: 'rating', value: 'bad' }],
          metadata: { identity_id: 'user-snake', reviewer_id: 'rev-9', source: 'widget' },
        }),
      );
      expect(res.status).toBe(200);
      const [score] = await scoresOn(spanId);
      expect(score).toMatchObject({
        annotatorId: 'user-snake',
        principalId: servicePrincipalId,
        value: 'bad',
        metadata: { identityId: 'user-snake', reviewerId: 'rev-9', source: 'widget' },
      });

      const camel = await curl(
        'POST',
        traceId,
        spanId,
        JSON.stringify({
          annotations: [{ key: 'rating', value: 'good' }],
          metadata: { identityId: 'user-snake', reviewerId: 'rev-9', source: 'widget' },
        }),
      );
      expect(camel.status).toBe(200);
      const after = await scoresOn(spanId);
      expect(after).toHaveLength(1); // the same identity: replaced, not added
      expect(after[0]).toMatchObject({ id: score.id, annotatorId: 'user-snake', value: 'good' });

      const del = await curl('DELETE', traceId, spanId, JSON.stringify({ keys: ['rating'], metadata: { identity_id: 'user-snake' } }));
      expect(del.status).toBe(200);
      expect(await scoresOn(spanId)).toEqual([]);
    });

    it('a user key may not attribute values to another identity (403, nothing written)', async () => {
      // DESIGN.md §3: metadata.identityId is end-user feedback relayed by a service key.
      const { traceId, spanId } = await newSpan();
      const res = await curl('POST', traceId, spanId, '{"annotations":[{"key":"rating","value":"good"}],"metadata":{"identityId":"user-123"}}', ws.memberKey);
      expect(res.status).toBe(403);
      expect(res.body).toEqual({
        error: { code: 'FORBIDDEN', message: 'metadata.identityId: only a service key may score on behalf of another identity.' },
      });
      expect(await scoresOn(spanId)).toEqual([]);
      // Naming itself is fine.
      const self = await curl(
        'POST',
        traceId,
        spanId,
        JSON.stringify({ annotations: [{ key: 'rating', value: 'good' }], metadata: { identityId: ws.memberId } }),
        ws.memberKey,
      );
      expect(self.status).toBe(200);
      expect(await valuesOn(spanId, ws.memberId)).toEqual({ rating: 'good' });
    });

    it('401 without a key', async () => {
      const { traceId, spanId } = await newSpan();
      const res = await system.as('').raw('POST', annotationPath(traceId, spanId), '{"annotations":[{"key":"rating","value":"good"}]}', json);
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('clients', () => {
    it('works with the TypeScript SDK @orq-ai/node: annotations.create and annotations.delete', async () => {
      const { traceId, spanId } = await newSpan();
      const orq = new Orq({ apiKey: serviceKey, serverURL: system.url });

      // SDK v4 takes the body under `requestBody`; the doc's snippet shows it flattened
      // (`annotations` / `metadata` / `keys` beside traceId and spanId), which v4 would drop.
      await orq.annotations.create({
        traceId,
        spanId,
        requestBody: {
          annotations: [
            { key: 'rating', value: 'good' },
            { key: 'defects', value: ['grammatical', 'spelling', 'ambiguity'] },
            { key: 'confidence_score', value: 0.95 },
          ],
          metadata: { identityId: 'user-123' },
        },
      });
      await orq.annotations.create({
        traceId,
        spanId,
        requestBody: { annotations: [{ key: 'correction', value: 'The correct answer should emphasize scalability and fault tolerance.' }] },
      });

      expect(await valuesOn(spanId, 'user-123')).toEqual({
        rating: 'good',
        defects: ['grammatical', 'spelling', 'ambiguity'],
        confidence_score: 0.95,
      });
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({
        correction: 'The correct answer should emphasize scalability and fault tolerance.',
      });
      const [attributed] = (await scoresOn(spanId)).filter((s) => s.annotatorId === 'user-123');
      expect(attributed.metadata).toEqual({ identityId: 'user-123' });

      await orq.annotations.delete({ traceId, spanId, requestBody: { keys: ['rating', 'defects'], metadata: { identityId: 'user-123' } } });
      expect(await valuesOn(spanId, 'user-123')).toEqual({ confidence_score: 0.95 });

      await orq.annotations.delete({ traceId, spanId, requestBody: { keys: ['correction'] } });
      expect(await valuesOn(spanId, servicePrincipalId)).toEqual({});
      expect(await valuesOn(spanId, 'user-123')).toEqual({ confidence_score: 0.95 });
    });

    it('the TypeScript SDK surfaces the documented errors with their status and body', async () => {
      const { traceId, spanId } = await newSpan();
      const orq = new Orq({ apiKey: serviceKey, serverURL: system.url });
      const error = await orq.annotations.create({ traceId, spanId, requestBody: { annotations: [{ key: 'rating', value: 'poor' }] } }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(OrqError);
      expect((error as OrqError).statusCode).toBe(400);
      expect(JSON.parse((error as OrqError).body)).toEqual({
        error: { code: 'VALIDATION', message: 'Invalid value: poor. Valid options are: good, bad.' },
      });

      const missing = await orq.annotations
        .create({ traceId: `trace-${uid()}`, spanId, requestBody: { annotations: [{ key: 'rating', value: 'good' }] } })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((missing as OrqError).statusCode).toBe(404);
      expect(JSON.parse((missing as OrqError).body).error.message).toBe(`Span with id ${spanId} for workspace ${ws.workspaceId} was not found.`);
      expect(await scoresOn(spanId)).toEqual([]);
    });

    it("accepts the Python SDK's wire format (snake_case metadata identity_id)", async () => {
      // orq_ai_sdk's CreateAnnotationMetadata field is `identity_id` and goes on the wire as is
      // (orq.annotations.create(trace_id=..., span_id=..., annotations=[...], metadata={"identity_id": ...})).
      const { traceId, spanId } = await newSpan();
      const url = `${system.url}${annotationPath(traceId, spanId)}`;
      const headers = { authorization: `Bearer ${serviceKey}`, 'content-type': 'application/json', accept: 'application/json' };
      const created = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          annotations: [
            { key: 'confidence_score', value: 0.95 },
            { key: 'rating', value: 'good' },
          ],
          metadata: { identity_id: 'user-123' },
        }),
      });
      expect(created.status).toBe(200);
      expect(await created.json()).toMatchObject({ success: true });
      expect(await valuesOn(spanId, 'user-123')).toEqual({ confidence_score: 0.95, rating: 'good' });

      const deleted = await fetch(url, {
        method: 'DELETE',
        headers,
        body: JSON.stringify({ keys: ['rating', 'defects'], metadata: { identity_id: 'user-123' } }),
      });
      expect(deleted.status).toBe(200);
      expect(await deleted.json()).toEqual({ success: true });
      expect(await valuesOn(spanId, 'user-123')).toEqual({ confidence_score: 0.95 });
    });
  });
});
