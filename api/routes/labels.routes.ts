import * as api from '../../domain/api.js';
import { conflict, notFound, validationError } from '../../domain/errors.js';
import { LABEL_KEY, parseLabelSettings, slugifyKey } from '../../domain/labels.js';
import type { Principal } from '../../domain/principals.js';
import { isUniqueViolation } from '../../infra/db.js';
import type { LabelRecord } from '../../infra/repositories/labels.repo.js';
import { pageOf } from '../../infra/repositories/rows.js';
import { requireAdmin } from '../auth.js';
import type { AppDeps } from '../../app/deps.js';
import { endpoint } from '../endpoint.js';

export function labelEndpoints({ repos }: AppDeps) {
  async function findLabel(principal: Principal, idOrKey: string): Promise<LabelRecord> {
    const label = await repos.labels.find(principal.workspaceId, idOrKey);
    if (!label) throw notFound(`Label ${idOrKey} was not found.`);
    return label;
  }

  const keyTaken = (key: string) => conflict(`A label with key "${key}" already exists in this workspace.`);

  return [
    endpoint({
      method: 'post',
      path: '/api/v1/labels',
      tag: 'labels',
      summary: 'Create a label (admin); settings get the defaults of their type',
      body: api.createLabelBody,
      status: 201,
      response: api.label,
      handler: async ({ principal, body }) => {
        requireAdmin(principal);
        const key = body.key ?? slugifyKey(body.name);
        if (!LABEL_KEY.test(key)) throw validationError('key: cannot be derived from name; give a key (lowercase letters, digits, _ or -).');
        const parsed = parseLabelSettings(body.type, body.settings);
        if (!parsed.ok) throw validationError(parsed.message);
        try {
          return await repos.labels.create(principal.workspaceId, {
            key,
            name: body.name,
            description: body.description ?? '',
            rules: parsed.rules,
            allowNotes: body.allowNotes ?? true,
          });
        } catch (error) {
          if (isUniqueViolation(error)) throw keyTaken(key);
          throw error;
        }
      },
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/labels',
      tag: 'labels',
      summary: 'Labels of the workspace (archived ones with includeArchived=true)',
      query: api.labelListQuery,
      status: 200,
      response: api.page(api.label),
      handler: async ({ principal, query }) =>
        pageOf(
          await repos.labels.list(principal.workspaceId, { limit: query.limit, cursor: query.cursor, includeArchived: query.includeArchived === 'true' }),
          query.limit,
        ),
    }),
    endpoint({
      method: 'get',
      path: '/api/v1/labels/:idOrKey',
      tag: 'labels',
      summary: 'One label, by id or key',
      status: 200,
      response: api.label,
      handler: async ({ principal, params }) => findLabel(principal, params.idOrKey!),
    }),
    endpoint({
      method: 'patch',
      path: '/api/v1/labels/:idOrKey',
      tag: 'labels',
      summary: 'Change a label (admin). Settings are merged and re-validated; a change bumps the version. The type never changes.',
      body: api.updateLabelBody,
      status: 200,
      response: api.label,
      handler: async ({ principal, params, body }) => {
        requireAdmin(principal);
        const label = await findLabel(principal, params.idOrKey!);
        if (body.type !== undefined && body.type !== label.type) {
          throw validationError(`type: a label's type is immutable (it is ${label.type}); create a new label instead.`);
        }
        let settings: Record<string, unknown> | undefined;
        if (body.settings !== undefined) {
          const parsed = parseLabelSettings(label.type, { ...label.settings, ...body.settings });
          if (!parsed.ok) throw validationError(parsed.message);
          settings = parsed.rules.settings;
        }
        // Key order is not meaningful: jsonb hands the stored settings back with its own key order.
        const canonical = (s: Record<string, unknown>) =>
          JSON.stringify(
            Object.keys(s)
              .sort()
              .map((k) => [k, s[k]]),
          );
        const bumpVersion = settings !== undefined && canonical(settings) !== canonical(label.settings);
        try {
          return await repos.labels.update(principal.workspaceId, label.id, { ...body, settings, bumpVersion });
        } catch (error) {
          if (isUniqueViolation(error) && body.key) throw keyTaken(body.key);
          throw error;
        }
      },
    }),
    endpoint({
      method: 'delete',
      path: '/api/v1/labels/:idOrKey',
      tag: 'labels',
      summary: 'Archive a label (admin): it takes no new scores; its scores stay',
      status: 200,
      response: api.label,
      handler: async ({ principal, params }) => {
        requireAdmin(principal);
        const label = await findLabel(principal, params.idOrKey!);
        return repos.labels.setArchived(principal.workspaceId, label.id, true);
      },
    }),
    endpoint({
      method: 'post',
      path: '/api/v1/labels/:idOrKey/restore',
      tag: 'labels',
      summary: 'Restore an archived label (admin)',
      status: 200,
      response: api.label,
      handler: async ({ principal, params }) => {
        requireAdmin(principal);
        const label = await findLabel(principal, params.idOrKey!);
        return repos.labels.setArchived(principal.workspaceId, label.id, false);
      },
    }),
  ];
}
