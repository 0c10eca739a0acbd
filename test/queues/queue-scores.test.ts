import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueueFixture } from '../helpers/queue-fixture.js';
import { startTestSystem, type TestSystem } from '../helpers/system.js';

/** Queue scores have one writer, their item's workflow (docs/adr/0002). */
describe('deleting a queue score', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startTestSystem();
  });
  afterAll(async () => system?.close());

  it('answers 409 CONFLICT for a score that belongs to a queue item, for its author and an admin alike, and keeps it', async () => {
    const q = await createQueueFixture(system, { annotators: 2, annotationsRequired: 2, items: 1 });
    const [a] = q.annotators;
    const itemId = q.itemIds[0]!;
    expect((await a!.api.post(q.path('/next'))).status).toBe(200);
    const submitted = await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'good' }] });
    expect(submitted.status).toBe(200);
    const scoreId: string = submitted.body.scores[0].id;

    for (const caller of [a!.api, q.admin]) {
      const refused = await caller.delete(`/api/v1/scores/${scoreId}`);
      expect(refused.status).toBe(409);
      expect(refused.body.error).toEqual({
        code: 'CONFLICT',
        message: `Score ${scoreId} belongs to a queue item, so only the item's workflow may change it; a reviewer can request changes instead.`,
      });
    }
    const row = await system.db('scores').where({ id: scoreId }).first();
    expect(row.deleted_at).toBeNull();
    // The stored idempotent answer and the item still name a live score.
    const detail = await a!.api.get(q.path(`/items/${itemId}`));
    expect(detail.body.annotations.map((s: { id: string }) => s.id)).toContain(scoreId);
  });

  it('is refused by the repository too, whoever calls it', async () => {
    const q = await createQueueFixture(system, { annotators: 1, items: 1 });
    const [a] = q.annotators;
    const itemId = q.itemIds[0]!;
    expect((await a!.api.post(q.path('/next'))).status).toBe(200);
    const submitted = await a!.api.post(q.path(`/items/${itemId}/submit`), { annotations: [{ label: 'rating', value: 'bad' }] });
    const scoreId: string = submitted.body.scores[0].id;
    const workspaceId: string = (await system.db('scores').where({ id: scoreId }).first()).workspace_id;
    await expect(system.repos.scores.softDelete(workspaceId, scoreId)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await system.db('scores').where({ id: scoreId }).first()).deleted_at).toBeNull();
  });
});
