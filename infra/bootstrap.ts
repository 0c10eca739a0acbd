import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { generateApiKey } from './api-keys.js';
import type { Db } from './db.js';
import { migrateLatest } from './migrations/index.js';
import { createPrincipalsRepo } from './repositories/principals.repo.js';
import { ensureSearchAttributes } from './temporal.js';

/** Schema and search attributes: what every process expects to exist. Safe to run repeatedly and concurrently. */
export async function prepareBackends(db: Db, connection: Connection, namespace: string): Promise<void> {
  await migrateLatest(db);
  await ensureSearchAttributes(connection, namespace);
}

/**
 * The owner key of a local install: QUORUM_ADMIN_KEY when set, else the one in <data dir>/admin-key,
 * else a new one. It is written to that file (mode 600) and stored hashed.
 */
export async function ensureLocalOwnerKey(db: Db, dataDir: string, configuredKey: string | undefined): Promise<string> {
  const file = path.join(dataDir, 'admin-key');
  const saved = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
  const key = configuredKey ?? (saved || generateApiKey());
  if (key !== saved) fs.writeFileSync(file, `${key}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  await createPrincipalsRepo(db).ensureOwner(key);
  return key;
}
