import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { validationError } from '../domain/errors.js';
import { describeStorageProblem, findUnstorable } from '../domain/storable.js';
import { isUuid } from '../domain/ids.js';
import type { Principal } from '../domain/principals.js';

/**
 * One declaration per endpoint: its path, schemas, status and handler. The router and the
 * OpenAPI document are both built from these, so what is documented is what is enforced.
 */
export interface EndpointContext<B, Q> {
  req: Request;
  res: Response;
  principal: Principal;
  params: Record<string, string>;
  body: B;
  query: Q;
}

export interface Endpoint<B = unknown, Q = unknown> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express-style path: /api/v1/labels/:idOrKey */
  path: string;
  summary: string;
  tag: string;
  /** false for health checks; everything else needs a Bearer key. */
  authenticated?: boolean;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /** Per-entry batch routes check what Postgres can store entry by entry, so one bad entry does not fail the others. */
  perEntry?: boolean;
  /** Batch-ingest routes take 16 MB; everything else 1 MB. */
  bodyLimit?: '1mb' | '16mb';
  status: number;
  response?: z.ZodType;
  handler: (ctx: EndpointContext<B, Q>) => Promise<unknown>;
}

/** An endpoint of any body and query type, as the router and the OpenAPI builder hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the handler's parameter is contravariant: Endpoint<unknown, unknown> would reject typed handlers.
export type AnyEndpoint = Endpoint<any, any>;

export function endpoint<B = undefined, Q = undefined>(e: Endpoint<B, Q>): AnyEndpoint {
  return e;
}

/** Formats the first zod issue as "field: rule" so the message names what is wrong. */
export function describeZodError(error: z.ZodError, root: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const where = issue.path.length ? issue.path.map(String).join('.') : root;
      if (issue.code === 'unrecognized_keys') return `${where === root ? root : where}: unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, root: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(describeZodError(result.error, root), result.error.issues);
  return result.data;
}

const jsonParsers = {
  '1mb': express.json({ limit: '1mb' }),
  '16mb': express.json({ limit: '16mb' }),
};

export type Authenticate = (req: Request) => Promise<Principal>;

/** Called when a handler's answer does not match its declared response schema (tests turn this on). */
export type ResponseDriftHandler = (endpoint: { method: string; path: string }, issues: string) => void;

export function mountEndpoints(router: Router, endpoints: AnyEndpoint[], authenticate: Authenticate, onResponseDrift?: ResponseDriftHandler): void {
  for (const e of endpoints) {
    // Authenticate before reading the body: an anonymous caller gets a 401, not a parse of 16 MB.
    const auth = async (req: Request, res: Response, next: NextFunction) => {
      if (e.authenticated !== false) res.locals.principal = await authenticate(req);
      next();
    };
    const parse = e.body ? [jsonParsers[e.bodyLimit ?? '1mb']] : [];
    router[e.method](e.path, auth, ...parse, async (req: Request, res: Response) => {
      // Path parameters and query values reach Postgres in WHERE clauses: the same storage rules hold for them.
      const unstorableInput = findUnstorable(req.params) ?? findUnstorable(req.query);
      if (unstorableInput) throw validationError(describeStorageProblem(unstorableInput, 'request'));
      let body: unknown;
      if (e.body) {
        if (req.body === undefined) throw validationError('Request body must be JSON (Content-Type: application/json).');
        const unstorable = e.perEntry ? undefined : findUnstorable(req.body);
        if (unstorable) throw validationError(describeStorageProblem(unstorable, 'body'));
        body = parseWith(e.body, req.body, 'body');
      }
      const query: unknown = e.query ? parseWith(e.query, req.query, 'query') : undefined;
      // A list's cursor is the id (a UUID) of the last row of the previous page; anything else would reach Postgres as a bad uuid.
      const cursor = (query as { cursor?: unknown } | undefined)?.cursor;
      if (typeof cursor === 'string' && !isUuid(cursor)) throw validationError('cursor: not a cursor returned by this list; pass nextCursor as it was given.');
      const principal = res.locals.principal as Principal;
      const result: unknown = await e.handler({ req, res, principal, params: req.params as Record<string, string>, body, query });
      if (res.headersSent) return;
      if (onResponseDrift && e.response && result !== undefined) {
        const checked = e.response.safeParse(result);
        if (!checked.success) {
          const issues = describeZodError(checked.error, 'response');
          onResponseDrift({ method: e.method, path: e.path }, issues);
          throw new Error(`${e.method.toUpperCase()} ${e.path} answered outside its response schema: ${issues}`);
        }
      }
      if (result === undefined) res.status(e.status).end();
      else res.status(e.status).json(result);
    });
  }
}
