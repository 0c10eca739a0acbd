import { z } from 'zod';
import * as api from '../../domain/api.js';
import { conflict, notFound, validationError } from '../../domain/errors.js';
import { isUuid } from '../../domain/ids.js';
import { isUniqueViolation } from '../../infra/db.js';
import { pageOf } from '../../infra/repositories/rows.js';
import { requireAdmin, requireOwner } from '../auth.js';
import type { AppDeps } from '../../app/deps.js';
import { endpoint } from '../endpoint.js';

/** Workspaces (owner), users and API keys (workspace admins). */
export function workspaceEndpoints({ repos }: AppDeps) {
  return [
    endpoint({
      method: 'post',
      path: '/api/v1/workspaces',
      tag: 'workspaces',
      summary: 'Create a workspace with its admin and first key (instance owner only)',
      body: api.createWorkspaceBody,
      status: 201,
      response: api.createWorkspaceResponse,
      handler: async ({ principal, body }) => {
        requireOwner(principal);
        return repos.principals.createWorkspace(body.name, body.admin);
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/workspaces',
      tag: 'workspaces',
      summary: 'Workspaces visible to the caller (all of them for the owner)',
      status: 200,
      response: z.object({ data: z.array(api.workspace) }),
      handler: async ({ principal }) => ({ data: await repos.principals.listWorkspaces(principal) }),
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/users',
      tag: 'users',
      summary: "Add a user to the caller's workspace (admin)",
      body: api.createUserBody,
      status: 201,
      response: api.user,
      handler: async ({ principal, body }) => {
        requireAdmin(principal);
        try {
          return await repos.principals.createUser(principal.workspaceId, body);
        } catch (error) {
          if (isUniqueViolation(error)) throw conflict(`A user with email ${body.email} already exists in this workspace.`);
          throw error;
        }
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/users',
      tag: 'users',
      summary: "Users of the caller's workspace",
      query: api.listQuery,
      status: 200,
      response: api.page(api.user),
      handler: async ({ principal, query }) => pageOf(await repos.principals.listUsers(principal.workspaceId, query.limit, query.cursor), query.limit),
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/api-keys',
      tag: 'api-keys',
      summary: 'Create an API key for a user, or (without userId) for a new service principal (admin). The key is shown once.',
      body: api.createApiKeyBody,
      status: 201,
      response: api.createApiKeyResponse,
      handler: async ({ principal, body }) => {
        requireAdmin(principal);
        if (body.userId) {
          if (!isUuid(body.userId) || !(await repos.principals.findUser(principal.workspaceId, body.userId))) {
            throw validationError(`userId: no user ${body.userId} in this workspace.`);
          }
        }
        return repos.principals.createApiKey(principal.workspaceId, body);
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/api-keys',
      tag: 'api-keys',
      summary: 'API keys of the workspace (never the secrets) (admin)',
      query: api.listQuery,
      status: 200,
      response: api.page(api.apiKey),
      handler: async ({ principal, query }) => {
        requireAdmin(principal);
        return pageOf(await repos.principals.listApiKeys(principal.workspaceId, query.limit, query.cursor), query.limit);
      },
    }),
    endpoint({
      method: 'delete',
      path: '/api/v1/api-keys/:id',
      tag: 'api-keys',
      summary: 'Revoke an API key: it is refused at once (admin)',
      status: 204,
      handler: async ({ principal, params }) => {
        requireAdmin(principal);
        if (!isUuid(params.id!) || !(await repos.principals.revokeApiKey(principal.workspaceId, params.id!))) {
          throw notFound(`API key ${params.id} was not found.`);
        }
        return undefined;
      },
    }),
  ];
}
