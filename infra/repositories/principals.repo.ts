import type { Principal, WorkspaceRole } from '../../domain/principals.js';
import { isUuid, newId } from '../../domain/ids.js';
import type { Db } from '../db.js';
import { generateApiKey, hashApiKey, hashesMatch } from '../api-keys.js';
import { iso, isoOrNull, str, type Row } from './rows.js';

export interface UserRecord {
  id: string;
  email: string;
  name: string;
  role: WorkspaceRole;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  userId: string | null;
  principalId: string;
  createdAt: string;
  revokedAt: string | null;
}

const role = (v: unknown): WorkspaceRole => (v === 'admin' ? 'admin' : 'member');

function toPrincipal(row: Row): Principal {
  return {
    id: str(row.id),
    workspaceId: str(row.workspace_id),
    kind: row.kind === 'user' ? 'user' : 'service',
    role: role(row.role),
    isOwner: row.is_owner === true,
  };
}

function toUser(row: Row): UserRecord {
  return { id: str(row.id), email: str(row.email), name: str(row.name), role: role(row.role) };
}

function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: str(row.id),
    name: str(row.name),
    userId: row.kind === 'user' ? str(row.principal_id) : null,
    principalId: str(row.principal_id),
    createdAt: iso(row.created_at),
    revokedAt: isoOrNull(row.revoked_at),
  };
}

/** Workspaces, users, service principals and their API keys. */
export function createPrincipalsRepo(db: Db) {
  async function insertKey(trx: Db, workspaceId: string, principalId: string, name: string, key: string): Promise<string> {
    const id = newId();
    await trx('api_keys').insert({ id, workspace_id: workspaceId, principal_id: principalId, name, secret_hash: hashApiKey(key) });
    return id;
  }

  return {
    async authenticate(key: string): Promise<Principal | null> {
      const presented = hashApiKey(key);
      const row = await db('api_keys as k')
        .join('principals as p', 'p.id', 'k.principal_id')
        .where('k.secret_hash', presented)
        .whereNull('k.revoked_at')
        .first('p.*', 'k.secret_hash');
      if (!row || !Buffer.isBuffer(row.secret_hash) || !hashesMatch(presented, row.secret_hash)) return null;
      return toPrincipal(row);
    },

    /**
     * The instance owner and its key. The owner lives in the first workspace ("Default");
     * a new key value replaces the old one (QUORUM_ADMIN_KEY changed, or the file was lost).
     */
    async ensureOwner(key: string): Promise<{ ownerId: string; workspaceId: string }> {
      return db.transaction(async (trx) => {
        await trx.raw('select pg_advisory_xact_lock(727001)');
        let owner = await trx('principals').where({ is_owner: true }).first();
        if (!owner) {
          const workspaceId = newId();
          await trx('workspaces').insert({ id: workspaceId, name: 'Default' });
          owner = { id: newId(), workspace_id: workspaceId };
          await trx('principals').insert({ ...owner, kind: 'service', name: 'Instance owner', role: 'admin', is_owner: true });
        }
        const ownerId = str(owner.id);
        const workspaceId = str(owner.workspace_id);
        const hash = hashApiKey(key);
        const existing = await trx('api_keys').where({ secret_hash: hash }).first();
        if (!existing || existing.principal_id !== ownerId || existing.revoked_at !== null) {
          await trx('api_keys').where({ principal_id: ownerId, name: 'owner' }).whereNull('revoked_at').update({ revoked_at: trx.fn.now() });
          if (existing) await trx('api_keys').where({ id: existing.id }).delete();
          await insertKey(trx, workspaceId, ownerId, 'owner', key);
        }
        return { ownerId, workspaceId };
      });
    },

    async createWorkspace(name: string, admin?: { email: string; name: string }) {
      return db.transaction(async (trx) => {
        const workspaceId = newId();
        await trx('workspaces').insert({ id: workspaceId, name });
        const adminId = newId();
        await trx('principals').insert(
          admin
            ? { id: adminId, workspace_id: workspaceId, kind: 'user', email: admin.email, name: admin.name, role: 'admin' }
            : { id: adminId, workspace_id: workspaceId, kind: 'service', name: `${name} admin`, role: 'admin' },
        );
        const apiKey = generateApiKey();
        await insertKey(trx, workspaceId, adminId, 'workspace admin', apiKey);
        return { workspace: { id: workspaceId, name }, admin: { id: adminId }, apiKey };
      });
    },

    async listWorkspaces(principal: Principal) {
      const query = db('workspaces').select('id', 'name', 'created_at').orderBy('created_at');
      if (!principal.isOwner) query.where({ id: principal.workspaceId });
      const rows: Row[] = await query;
      return rows.map((r) => ({ id: str(r.id), name: str(r.name), createdAt: iso(r.created_at) }));
    },

    async createUser(workspaceId: string, input: { email: string; name: string; role: WorkspaceRole }): Promise<UserRecord> {
      const id = newId();
      const [row] = await db('principals')
        .insert({ id, workspace_id: workspaceId, kind: 'user', email: input.email, name: input.name, role: input.role })
        .returning('*');
      return toUser(row);
    },

    async listUsers(workspaceId: string, limit: number, cursor?: string) {
      const query = db('principals')
        .where({ workspace_id: workspaceId, kind: 'user' })
        .orderBy('id')
        .limit(limit + 1);
      if (cursor) query.where('id', '>', cursor);
      return ((await query) as Row[]).map(toUser);
    },

    async findUser(workspaceId: string, id: string): Promise<UserRecord | null> {
      const row = await db('principals').where({ workspace_id: workspaceId, id, kind: 'user' }).first();
      return row ? toUser(row) : null;
    },

    /** Which of these ids are principals of the workspace. */
    async existing(workspaceId: string, ids: string[]): Promise<Set<string>> {
      const valid = ids.filter(isUuid);
      if (valid.length === 0) return new Set();
      const rows: Row[] = await db('principals').where({ workspace_id: workspaceId }).whereIn('id', valid).select('id');
      return new Set(rows.map((r) => str(r.id)));
    },

    async createApiKey(workspaceId: string, input: { userId?: string; name: string; role?: WorkspaceRole }) {
      return db.transaction(async (trx) => {
        let principalId = input.userId;
        if (!principalId) {
          principalId = newId();
          await trx('principals').insert({ id: principalId, workspace_id: workspaceId, kind: 'service', name: input.name, role: input.role ?? 'member' });
        }
        const key = generateApiKey();
        const id = await insertKey(trx, workspaceId, principalId, input.name, key);
        return { id, name: input.name, userId: input.userId ?? null, principalId, key };
      });
    },

    async listApiKeys(workspaceId: string, limit: number, cursor?: string): Promise<ApiKeyRecord[]> {
      const query = db('api_keys as k')
        .join('principals as p', 'p.id', 'k.principal_id')
        .where('k.workspace_id', workspaceId)
        .select('k.id', 'k.name', 'k.principal_id', 'k.created_at', 'k.revoked_at', 'p.kind')
        .orderBy('k.id')
        .limit(limit + 1);
      if (cursor) query.where('k.id', '>', cursor);
      return ((await query) as Row[]).map(toApiKey);
    },

    /** Revokes a key; returns false when the workspace has no such key. */
    async revokeApiKey(workspaceId: string, id: string): Promise<boolean> {
      const updated = await db('api_keys')
        .where({ workspace_id: workspaceId, id })
        .update({ revoked_at: db.raw('coalesce(revoked_at, now())') });
      return updated > 0;
    },
  };
}

export type PrincipalsRepo = ReturnType<typeof createPrincipalsRepo>;
