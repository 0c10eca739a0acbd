import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createDb } from '../../infra/db.js';
import { ensureLocalOwnerKey } from '../../infra/bootstrap.js';
import { migrateLatest } from '../../infra/migrations/index.js';
import { createPrincipalsRepo } from '../../infra/repositories/principals.repo.js';
import { withDatabase } from '../helpers/global-setup.js';

describe('migrations and bootstrap', () => {
  const name = `quorum_test_${inject('runId')}_empty_${randomUUID().slice(0, 6)}`;
  const admin = createDb(inject('adminDatabaseUrl'), { max: 1 });
  let db: ReturnType<typeof createDb> | undefined;
  afterAll(async () => {
    await db?.destroy();
    await admin.destroy();
  });

  it('migrates an empty database, and a second run changes nothing', async () => {
    await admin.raw('create database ??', [name]);
    db = createDb(withDatabase(inject('adminDatabaseUrl'), name));
    await migrateLatest(db);
    const tables = await db.raw(`select table_name from information_schema.tables where table_schema = 'public' order by 1`);
    expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual(
      expect.arrayContaining(['workspaces', 'principals', 'api_keys', 'labels', 'sources', 'scores']),
    );
    const [{ count }] = (await db.raw('select count(*)::int as count from knex_migrations')).rows;
    await migrateLatest(db);
    const [{ count: again }] = (await db.raw('select count(*)::int as count from knex_migrations')).rows;
    expect(again).toBe(count);
  });

  it('refuses a label type change in the database itself', async () => {
    const ws = randomUUID();
    await db!('workspaces').insert({ id: ws, name: 'w' });
    const id = randomUUID();
    await db!('labels').insert({ id, workspace_id: ws, key: 'k', name: 'k', type: 'thumbs', settings: '{}' });
    await expect(db!('labels').where({ id }).update({ type: 'star' })).rejects.toThrow(/label type is immutable/);
  });

  it('keeps the owner key across starts, writes it mode 600, and lets QUORUM_ADMIN_KEY replace it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'owner-'));
    const repo = createPrincipalsRepo(db!);
    const first = await ensureLocalOwnerKey(db!, dir, undefined);
    expect(fs.statSync(path.join(dir, 'admin-key')).mode & 0o777).toBe(0o600);
    expect(await ensureLocalOwnerKey(db!, dir, undefined)).toBe(first);
    expect((await repo.authenticate(first))?.isOwner).toBe(true);
    const configured = 'a-configured-owner-key-0123456789';
    expect(await ensureLocalOwnerKey(db!, dir, configured)).toBe(configured);
    expect((await repo.authenticate(configured))?.isOwner).toBe(true);
    expect(await repo.authenticate(first)).toBeNull();
    expect(fs.readFileSync(path.join(dir, 'admin-key'), 'utf8').trim()).toBe(configured);
    const stored = await db!('api_keys').select('secret_hash');
    expect(JSON.stringify(stored)).not.toContain(configured);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
