import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkspaceFixture, startTestSystem, type TestSystem } from './helpers/system.js';

type Fixture = Awaited<ReturnType<typeof createWorkspaceFixture>>;

const uid = () => randomUUID().slice(0, 8);

describe('labels over HTTP', () => {
  let system: TestSystem;
  let ws: Fixture;

  beforeAll(async () => {
    system = await startTestSystem({ worker: false });
    ws = await createWorkspaceFixture(system);
  });
  afterAll(async () => system?.close());

  async function labelRow(id: string) {
    return system.db('labels').where({ id }).first();
  }

  async function createLabel(body: Record<string, unknown>, client = ws.admin) {
    const res = await client.post('/api/v1/labels', body);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  describe('create', () => {
    it('creates a categorical label with multiChoice defaulted to false', async () => {
      const key = `rating_${uid()}`;
      const res = await ws.admin.post('/api/v1/labels', { key, name: 'Rating', type: 'categorical', settings: { options: ['good', 'bad'] } });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        key,
        name: 'Rating',
        description: '',
        type: 'categorical',
        allowNotes: true,
        version: 1,
        archived: false,
        settings: { options: ['good', 'bad'], multiChoice: false },
      });
      expect(res.body.id).toMatch(/^[0-9a-f-]{36}$/);
      const row = await labelRow(res.body.id);
      expect(row).toMatchObject({ workspace_id: ws.workspaceId, key, type: 'categorical', archived_at: null });
      expect(row.settings).toEqual({ options: ['good', 'bad'], multiChoice: false });
    });

    it('creates a multiChoice categorical label', async () => {
      const body = await createLabel({
        key: `defects_${uid()}`,
        name: 'Defects',
        type: 'categorical',
        settings: { options: ['grammatical', 'spelling', 'ambiguity'], multiChoice: true },
      });
      expect(body.settings).toEqual({ options: ['grammatical', 'spelling', 'ambiguity'], multiChoice: true });
    });

    it('creates a numeric label with min 0, max 10 and slider filled in', async () => {
      const body = await createLabel({ key: `score_${uid()}`, name: 'Score', type: 'numeric' });
      expect(body.settings).toEqual({ min: 0, max: 10, display: 'slider' });
    });

    it('creates a numeric label with a step', async () => {
      const body = await createLabel({ key: `confidence_${uid()}`, name: 'Confidence', type: 'numeric', settings: { min: 0, max: 1, step: 0.01 } });
      expect(body.settings).toEqual({ min: 0, max: 1, step: 0.01, display: 'slider' });
    });

    it('creates a text label with minLength 0, maxLength 5000 and correction false filled in', async () => {
      const body = await createLabel({ key: `correction_${uid()}`, name: 'Correction', type: 'text', description: 'Fix the answer', allowNotes: false });
      expect(body).toMatchObject({ description: 'Fix the answer', allowNotes: false, settings: { minLength: 0, maxLength: 5000, correction: false } });
    });

    it('creates a star label with 5 stars filled in', async () => {
      const body = await createLabel({ key: `stars_${uid()}`, name: 'Stars', type: 'star' });
      expect(body.settings).toEqual({ stars: 5 });
    });

    it('creates a thumbs label with empty settings', async () => {
      const body = await createLabel({ key: `thumbs_${uid()}`, name: 'Thumbs', type: 'thumbs' });
      expect(body.settings).toEqual({});
    });

    it('derives the key from the name when none is given', async () => {
      const suffix = uid();
      const body = await createLabel({ name: `Response Quality ${suffix}`, type: 'thumbs' });
      expect(body.key).toBe(`response_quality_${suffix}`);
      expect((await ws.admin.get(`/api/v1/labels/response_quality_${suffix}`)).body.id).toBe(body.id);
    });

    it('answers 400 when no key can be derived from the name, writing nothing', async () => {
      const before = await system.db('labels').where({ workspace_id: ws.workspaceId }).count({ n: '*' }).first();
      const res = await ws.admin.post('/api/v1/labels', { name: '!!!', type: 'thumbs' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION');
      expect(res.body.error.message).toMatch(/^key: /);
      const after = await system.db('labels').where({ workspace_id: ws.workspaceId }).count({ n: '*' }).first();
      expect(after).toEqual(before);
    });

    it('answers 409 for a duplicate key and keeps the first label', async () => {
      const key = `dup_${uid()}`;
      const first = await createLabel({ key, name: 'First', type: 'thumbs' });
      const res = await ws.admin.post('/api/v1/labels', { key, name: 'Second', type: 'star' });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ error: { code: 'CONFLICT', message: `A label with key "${key}" already exists in this workspace.` } });
      const rows = await system.db('labels').where({ workspace_id: ws.workspaceId, key });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ id: first.id, name: 'First', type: 'thumbs' });
    });

    it('answers 409 when a derived key collides with an existing key', async () => {
      const suffix = uid();
      await createLabel({ key: `helpful_${suffix}`, name: 'Helpful', type: 'thumbs' });
      const res = await ws.admin.post('/api/v1/labels', { name: `Helpful ${suffix}`, type: 'thumbs' });
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('CONFLICT');
    });

    it('allows the same key in another workspace', async () => {
      const key = `shared_${uid()}`;
      await createLabel({ key, name: 'Shared', type: 'thumbs' });
      const other = await createWorkspaceFixture(system);
      const res = await other.admin.post('/api/v1/labels', { key, name: 'Shared', type: 'thumbs' });
      expect(res.status).toBe(201);
    });

    it('rejects invalid settings with 400 naming the setting, writing nothing', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ type: 'categorical', settings: { options: ['only'] } }, 'settings.options: options needs at least 2 entries'],
        [{ type: 'categorical', settings: { options: ['a', 'a'] } }, 'settings.options: options must be unique'],
        [{ type: 'numeric', settings: { min: 10, max: 10 } }, 'settings.min: min must be less than max'],
        [{ type: 'star', settings: { stars: 11 } }, 'settings.stars: Too big: expected number to be <=10'],
        [{ type: 'thumbs', settings: { color: 'green' } }, 'settings: Unrecognized key: "color"'],
      ];
      for (const [body, message] of cases) {
        const key = `bad_${uid()}`;
        const res = await ws.admin.post('/api/v1/labels', { key, name: 'Bad', ...body });
        expect(res.status, message).toBe(400);
        expect(res.body).toEqual({ error: { code: 'VALIDATION', message } });
        expect(await system.db('labels').where({ key }).first()).toBeUndefined();
      }
    });

    it('rejects an unknown type and an invalid key', async () => {
      const badType = await ws.admin.post('/api/v1/labels', { key: `x_${uid()}`, name: 'X', type: 'emoji' });
      expect(badType.status).toBe(400);
      expect(badType.body.error.code).toBe('VALIDATION');
      const badKey = await ws.admin.post('/api/v1/labels', { key: 'Not A Slug', name: 'X', type: 'thumbs' });
      expect(badKey.status).toBe(400);
      expect(badKey.body.error.message).toMatch(/^key: /);
    });

    it('forbids a member (non-admin) from creating labels, writing nothing', async () => {
      const key = `member_${uid()}`;
      const res = await ws.member.post('/api/v1/labels', { key, name: 'Member label', type: 'thumbs' });
      expect(res.status).toBe(403);
      expect(res.body).toEqual({ error: { code: 'FORBIDDEN', message: 'This action needs the workspace admin role.' } });
      expect(await system.db('labels').where({ key }).first()).toBeUndefined();
    });

    it('answers 401 without a key', async () => {
      const res = await system.as('').post('/api/v1/labels', { name: 'Anon', type: 'thumbs' });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('read', () => {
    it('gets a label by id and by key, also as a member', async () => {
      const created = await createLabel({ key: `get_${uid()}`, name: 'Get me', type: 'star', settings: { stars: 3 } });
      const byId = await ws.admin.get(`/api/v1/labels/${created.id}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toEqual(created);
      const byKey = await ws.member.get(`/api/v1/labels/${created.key}`);
      expect(byKey.status).toBe(200);
      expect(byKey.body).toEqual(created);
    });

    it("answers 404 for an unknown label and for another workspace's label", async () => {
      const missing = await ws.admin.get(`/api/v1/labels/nope_${uid()}`);
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe('NOT_FOUND');
      const other = await createWorkspaceFixture(system);
      const theirs = (await other.admin.post('/api/v1/labels', { key: `theirs_${uid()}`, name: 'Theirs', type: 'thumbs' })).body;
      expect((await ws.admin.get(`/api/v1/labels/${theirs.id}`)).status).toBe(404);
      expect((await ws.admin.get(`/api/v1/labels/${theirs.key}`)).status).toBe(404);
    });

    it('lists with limit and nextCursor, oldest first, and hides archived labels unless includeArchived=true', async () => {
      const fresh = await createWorkspaceFixture(system);
      const ids: string[] = [];
      for (const n of [1, 2, 3]) {
        const res = await fresh.admin.post('/api/v1/labels', { key: `l${n}`, name: `L${n}`, type: 'thumbs' });
        expect(res.status).toBe(201);
        ids.push(res.body.id);
      }
      const first = await fresh.admin.get('/api/v1/labels?limit=2');
      expect(first.status).toBe(200);
      expect(first.body.data.map((l: { id: string }) => l.id)).toEqual(ids.slice(0, 2));
      expect(first.body.nextCursor).toBe(ids[1]);
      const second = await fresh.admin.get(`/api/v1/labels?limit=2&cursor=${first.body.nextCursor}`);
      expect(second.body.data.map((l: { id: string }) => l.id)).toEqual([ids[2]]);
      expect(second.body.nextCursor).toBeNull();

      const all = await fresh.member.get('/api/v1/labels');
      expect(all.body).toEqual({ data: expect.any(Array), nextCursor: null });
      expect(all.body.data).toHaveLength(3);

      expect((await fresh.admin.delete('/api/v1/labels/l2')).status).toBe(200);
      const live = await fresh.admin.get('/api/v1/labels');
      expect(live.body.data.map((l: { key: string }) => l.key)).toEqual(['l1', 'l3']);
      const withArchived = await fresh.admin.get('/api/v1/labels?includeArchived=true');
      expect(withArchived.body.data.map((l: { key: string; archived: boolean }) => [l.key, l.archived])).toEqual([
        ['l1', false],
        ['l2', true],
        ['l3', false],
      ]);
      const explicitFalse = await fresh.admin.get('/api/v1/labels?includeArchived=false');
      expect(explicitFalse.body.data).toHaveLength(2);
    });

    it('rejects a limit out of range', async () => {
      expect((await ws.admin.get('/api/v1/labels?limit=0')).status).toBe(400);
      expect((await ws.admin.get('/api/v1/labels?limit=501')).status).toBe(400);
    });
  });

  describe('update', () => {
    it('rejects a type change with 400 and leaves the row unchanged', async () => {
      const created = await createLabel({ key: `typed_${uid()}`, name: 'Typed', type: 'categorical', settings: { options: ['a', 'b'] } });
      const before = await labelRow(created.id);
      const res = await ws.admin.patch(`/api/v1/labels/${created.id}`, { type: 'numeric', name: 'Renamed' });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: { code: 'VALIDATION', message: "type: a label's type is immutable (it is categorical); create a new label instead." },
      });
      expect(await labelRow(created.id)).toEqual(before);
    });

    it('accepts the same type as a no-op field', async () => {
      const created = await createLabel({ key: `sametype_${uid()}`, name: 'Same', type: 'thumbs' });
      const res = await ws.admin.patch(`/api/v1/labels/${created.id}`, { type: 'thumbs', name: 'Same again' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ type: 'thumbs', name: 'Same again', version: 1 });
    });

    it('merges a settings change into the stored settings and bumps the version', async () => {
      const created = await createLabel({
        key: `merge_${uid()}`,
        name: 'Merge',
        type: 'numeric',
        settings: { min: 0, max: 1, step: 0.01, display: 'buttons' },
      });
      const res = await ws.admin.patch(`/api/v1/labels/${created.key}`, { settings: { max: 5 } });
      expect(res.status).toBe(200);
      expect(res.body.settings).toEqual({ min: 0, max: 5, step: 0.01, display: 'buttons' });
      expect(res.body.version).toBe(2);
      const row = await labelRow(created.id);
      expect(row.version).toBe(2);
      expect(row.settings).toEqual({ min: 0, max: 5, step: 0.01, display: 'buttons' });

      const again = await ws.admin.patch(`/api/v1/labels/${created.id}`, { settings: { step: 0.5 } });
      expect(again.body).toMatchObject({ version: 3, settings: { min: 0, max: 5, step: 0.5, display: 'buttons' } });
    });

    it('keeps the version when the settings do not change', async () => {
      const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
        ['numeric', { min: 0, max: 1, step: 0.01 }, { max: 1 }],
        ['numeric', {}, {}],
        ['text', { maxLength: 200, placeholder: 'Why?' }, { maxLength: 200 }],
        ['text', {}, { minLength: 0 }],
        ['categorical', { options: ['good', 'bad'], multiChoice: true }, { options: ['good', 'bad'] }],
        ['star', { stars: 4 }, { stars: 4 }],
        ['thumbs', {}, {}],
      ];
      for (const [type, settings, patch] of cases) {
        const created = await createLabel({ key: `noop_${uid()}`, name: 'No-op', type, settings });
        const res = await ws.admin.patch(`/api/v1/labels/${created.id}`, { settings: patch });
        expect(res.status).toBe(200);
        expect(res.body.version, `${type} ${JSON.stringify(settings)} patched with ${JSON.stringify(patch)}`).toBe(1);
        expect(res.body.settings).toEqual(created.settings);
        expect((await labelRow(created.id)).version).toBe(1);
      }
    });

    it('keeps the version on a name-only change', async () => {
      const created = await createLabel({ key: `rename_${uid()}`, name: 'Old', type: 'star' });
      const res = await ws.admin.patch(`/api/v1/labels/${created.id}`, { name: 'New', description: 'Now described', allowNotes: false });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: 'New', description: 'Now described', allowNotes: false, version: 1, settings: { stars: 5 } });
    });

    it('rejects invalid settings with 400 and writes nothing, not even the other fields', async () => {
      const created = await createLabel({ key: `invalid_${uid()}`, name: 'Valid', type: 'numeric', settings: { min: 0, max: 10 } });
      const before = await labelRow(created.id);
      const cases: [Record<string, unknown>, string][] = [
        [{ name: 'Changed', settings: { min: 20 } }, 'settings.min: min must be less than max'],
        [{ name: 'Changed', settings: { step: 0 } }, 'settings.step: step must be greater than 0'],
        [{ name: 'Changed', settings: { stars: 5 } }, 'settings: Unrecognized key: "stars"'],
      ];
      for (const [patch, message] of cases) {
        const res = await ws.admin.patch(`/api/v1/labels/${created.id}`, patch);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error: { code: 'VALIDATION', message } });
        expect(await labelRow(created.id)).toEqual(before);
      }
    });

    it('rejects a categorical settings change that leaves fewer than 2 options', async () => {
      const created = await createLabel({ key: `opts_${uid()}`, name: 'Opts', type: 'categorical', settings: { options: ['a', 'b'] } });
      const before = await labelRow(created.id);
      const res = await ws.admin.patch(`/api/v1/labels/${created.id}`, { settings: { options: ['a'] } });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toBe('settings.options: options needs at least 2 entries');
      expect(await labelRow(created.id)).toEqual(before);
    });

    it("answers 409 when renaming the key onto another label's key", async () => {
      const a = await createLabel({ key: `a_${uid()}`, name: 'A', type: 'thumbs' });
      const b = await createLabel({ key: `b_${uid()}`, name: 'B', type: 'thumbs' });
      const res = await ws.admin.patch(`/api/v1/labels/${b.id}`, { key: a.key });
      expect(res.status).toBe(409);
      expect(res.body.error).toEqual({ code: 'CONFLICT', message: `A label with key "${a.key}" already exists in this workspace.` });
      expect((await labelRow(b.id)).key).toBe(b.key);
    });

    it('forbids a member from changing a label', async () => {
      const created = await createLabel({ key: `guarded_${uid()}`, name: 'Guarded', type: 'thumbs' });
      const res = await ws.member.patch(`/api/v1/labels/${created.id}`, { name: 'Hijacked' });
      expect(res.status).toBe(403);
      expect((await labelRow(created.id)).name).toBe('Guarded');
    });
  });

  describe('archive and restore', () => {
    it('archives on DELETE, rejects new scores while archived, keeps old scores, and restores', async () => {
      const key = `archivable_${uid()}`;
      const created = await createLabel({ key, name: 'Archivable', type: 'categorical', settings: { options: ['good', 'bad'] } });
      const traceId = `trace-${uid()}`;
      const sources = await ws.admin.post('/api/v1/sources', [{ type: 'trace', id: traceId }]);
      expect(sources.status).toBe(200);
      expect(sources.body.added).toHaveLength(1);

      const scored = await ws.admin.post('/api/v1/scores', { sourceType: 'trace', sourceId: traceId, label: key, value: 'good' });
      expect(scored.status, JSON.stringify(scored.body)).toBe(201);

      const archived = await ws.admin.delete(`/api/v1/labels/${key}`);
      expect(archived.status).toBe(200);
      expect(archived.body).toMatchObject({ id: created.id, archived: true });
      expect((await labelRow(created.id)).archived_at).not.toBeNull();
      expect((await ws.admin.get(`/api/v1/labels/${created.id}`)).body.archived).toBe(true);

      const member = await ws.member.delete(`/api/v1/labels/${key}`);
      expect(member.status).toBe(403);

      const scoresBefore = await system.db('scores').where({ label_id: created.id }).count({ n: '*' }).first();
      const rejected = await ws.admin.post('/api/v1/scores', { sourceType: 'trace', sourceId: traceId, label: key, value: 'bad' });
      expect(rejected.status).toBe(400);
      expect(rejected.body).toEqual({ error: { code: 'VALIDATION', message: `Label ${key} is archived; restore it to add scores.` } });
      expect(await system.db('scores').where({ label_id: created.id }).count({ n: '*' }).first()).toEqual(scoresBefore);

      const old = await ws.admin.get(`/api/v1/scores?label=${key}`);
      expect(old.status).toBe(200);
      expect(old.body.data).toHaveLength(1);
      expect(old.body.data[0]).toMatchObject({ id: scored.body.id, value: 'good', labelKey: key, sourceId: traceId });

      const restored = await ws.admin.post(`/api/v1/labels/${key}/restore`);
      expect(restored.status).toBe(200);
      expect(restored.body).toMatchObject({ id: created.id, archived: false });
      expect((await labelRow(created.id)).archived_at).toBeNull();

      const rescored = await ws.admin.post('/api/v1/scores', { sourceType: 'trace', sourceId: traceId, label: key, value: 'bad' });
      expect(rescored.status).toBe(200); // replaced the caller's value on this source
      expect(rescored.body).toMatchObject({ id: scored.body.id, value: 'bad' });
      const otherTrace = `trace-${uid()}`;
      await ws.admin.post('/api/v1/sources', [{ type: 'trace', id: otherTrace }]);
      const fresh = await ws.admin.post('/api/v1/scores', { sourceType: 'trace', sourceId: otherTrace, label: key, value: 'good' });
      expect(fresh.status).toBe(201);
    });

    it('archiving twice keeps the first archive time', async () => {
      const created = await createLabel({ key: `twice_${uid()}`, name: 'Twice', type: 'thumbs' });
      await ws.admin.delete(`/api/v1/labels/${created.id}`);
      const first = (await labelRow(created.id)).archived_at;
      await new Promise((r) => setTimeout(r, 20));
      const again = await ws.admin.delete(`/api/v1/labels/${created.id}`);
      expect(again.status).toBe(200);
      expect((await labelRow(created.id)).archived_at).toEqual(first);
    });
  });
});
