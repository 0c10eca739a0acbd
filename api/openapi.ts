import { z } from 'zod';
import type { AnyEndpoint } from './endpoint.js';

/** The OpenAPI 3.1 document, generated from the endpoint declarations and their zod schemas. */
export function buildOpenApi(endpoints: AnyEndpoint[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of endpoints) {
    const path = e.path.replace(/:(\w+)/g, '{$1}');
    const pathParams = [...e.path.matchAll(/:(\w+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const querySchema = e.query
      ? (z.toJSONSchema(e.query, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown>; required?: string[] })
      : undefined;
    const queryParams = Object.entries(querySchema?.properties ?? {}).map(([name, schema]) => ({
      name,
      in: 'query',
      required: querySchema?.required?.includes(name) ?? false,
      schema,
    }));
    paths[path] ??= {};
    paths[path][e.method] = {
      summary: e.summary,
      tags: [e.tag],
      ...(e.authenticated === false ? { security: [] } : {}),
      parameters: [...pathParams, ...queryParams],
      ...(e.body && {
        requestBody: { required: true, content: { 'application/json': { schema: z.toJSONSchema(e.body, { io: 'input', unrepresentable: 'any' }) } } },
      }),
      responses: {
        [e.status]: e.response
          ? { description: 'Success', content: { 'application/json': { schema: z.toJSONSchema(e.response, { unrepresentable: 'any' }) } } }
          : { description: 'Success, no content' },
        default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Quorum API', version: '1', description: 'Human review of LLM outputs: labels, sources, scores, queues.' },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' }, details: {} } },
          },
        },
      },
    },
    paths,
  };
}
