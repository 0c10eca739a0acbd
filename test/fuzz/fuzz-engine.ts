/**
 * Property-based fuzzing of the whole API against a running stack (API, worker, Temporal, Postgres).
 *
 * Requests are generated with fast-check from the served OpenAPI document: for every operation a
 * valid-ish request (real ids from a fixture, values that pass the label rules), then mutated (wrong
 * types, missing and extra fields, huge strings, deep nesting, unicode edge cases, odd numbers, invalid
 * JSON, bad bytes, wrong Content-Type, a Content-Encoding on a plain body, garbage and bad
 * percent-encoding in path and query, other principals). They are sent one at a time, so each answer
 * and each database change can be pinned on the request that caused it, and checked:
 *   - no answer ≥ 500, and every request answered (15 s timeout);
 *   - every 4xx in the error envelope {"error":{"code","message",details?}}, its code matching its status;
 *   - no stack frame, file path or SQL text in an error body;
 *   - a rejected request (≥ 400) wrote no row (a fingerprint of every table before and after it);
 *   - a rejected request on an item did not move the item's workflow on (its state version);
 *   - at the end, no stuck item: every item's read model caught up with its workflow and no activity is failing.
 *
 * A plain module, no vitest: test/fuzz/fuzz.test.ts runs a seeded ≈1,000 requests inside `npm test`,
 * scripts/fuzz.ts ≥ 10,000 for `npm run fuzz`.
 */
import { Buffer } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { format } from 'node:util';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { z } from 'zod';
import * as contract from '../../domain/api.js';
import { createPerson, createQueueFixture } from '../helpers/queue-fixture.js';
import { createWorkspaceFixture, type TestSystem } from '../helpers/system.js';

const REQUEST_TIMEOUT_MS = 15_000;
const TEMPORAL_TIMEOUT_MS = 5_000;
/** Each list of findings keeps this many; the rest are only counted (a systematic bug would fill the report). */
const MAX_KEPT = 200;
const PREVIEW_CHARS = 1_500;
/** A well-formed id that matches nothing: what a Ref resolves to when its pool is empty. */
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';
const CLOSED_ITEM_STATUSES = new Set(['completed', 'cancelled']);
const SOURCE_TYPES = ['trace', 'observation_span', 'trace_session', 'dataset_row', 'call_execution', 'prototype_run'] as const;

// ───────────────────────────── the report ─────────────────────────────

export type StatusClass = '2xx' | '3xx' | '4xx' | '5xx' | 'none';
export type StatusCounts = Record<StatusClass, number>;

/** A request as the report shows it: the key replaced by the principal's name, the body truncated. */
export interface SentRequest {
  method: string;
  path: string;
  principal: string;
  headers: Record<string, string>;
  body?: string;
  bodyBytes?: number;
}

export interface Finding {
  /** Position in the run (plans are generated from the seed, so the same seed sends the same sequence). */
  index: number;
  operation: string;
  mutations: string[];
  request: SentRequest;
  /** 0: no answer (timeout, connection reset). */
  status: number;
  response: string;
  problem: string;
  /** What the API logged (console.error) while handling the request: the stack of a 5xx. */
  serverLog?: string[];
}

export interface StuckItem {
  itemId: string;
  queueId: string;
  rowStatus: string;
  rowVersion: number;
  problem: string;
}

/** Findings with one cause: same list, same status, same normalized problem (for a 5xx, the error the server logged). */
export interface FailurePattern {
  list: FindingList;
  status: number;
  cause: string;
  count: number;
  operations: string[];
  /** The kinds of mutation of the requests that showed it. */
  mutations: string[];
  /** The smallest request of the pattern: the one to reproduce it with. */
  example: Finding;
}

export type FindingList = 'serverErrors' | 'writesFromRejected' | 'acceptedByWorkflow' | 'envelopeViolations' | 'leaks';

export interface FuzzReport {
  seed: number;
  requests: number;
  durationMs: number;
  byStatusClass: StatusCounts;
  byStatus: Record<string, number>;
  byOperation: Record<string, StatusCounts>;
  byMutation: Record<string, StatusCounts>;
  /** Answers ≥ 500, and requests that got no answer. */
  serverErrors: Finding[];
  /** Requests answered ≥ 400 during which a row was inserted, updated or deleted. */
  writesFromRejected: Finding[];
  /** Requests answered ≥ 400 after which the item's workflow had moved on (it accepted what the API refused). */
  acceptedByWorkflow: Finding[];
  envelopeViolations: Finding[];
  leaks: Finding[];
  stuckItems: StuckItem[];
  /** Answers that did not match their endpoint's response schema (the test system records them). */
  responseDrifts: string[];
  /** Distinct failure signatures over all the lists, with counts and the smallest example of each. */
  patterns: FailurePattern[];
  /** Findings counted beyond MAX_KEPT per list. */
  dropped: Partial<Record<FindingList, number>>;
  /** Setup steps between requests (reserve an item for a submit…) that did not work: they lower coverage, not correctness. */
  arrangementProblems: string[];
}

/** The invariants the run must hold, each as a sentence; empty when it passed. */
export function violatedInvariants(report: FuzzReport): string[] {
  const count = (list: FindingList) => report[list].length + (report.dropped[list] ?? 0);
  const problems: [number, string][] = [
    [count('serverErrors'), 'answers ≥ 500 or no answer'],
    [count('writesFromRejected'), 'rejected requests that wrote rows'],
    [count('acceptedByWorkflow'), "rejected requests the item's workflow accepted"],
    [count('envelopeViolations'), '4xx answers outside the error envelope'],
    [count('leaks'), 'error bodies with stack or SQL text'],
    [report.stuckItems.length, 'stuck items'],
    [report.responseDrifts.length, 'answers outside their response schema'],
  ];
  return problems.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
}

/** Findings as readable text for a failing assertion: the request to send again, the answer, why it is wrong. */
export function describeFindings(findings: Finding[], max = 8): string {
  if (findings.length === 0) return 'none';
  const shown = findings.slice(0, max).map((f) => {
    const headers = Object.entries(f.request.headers).map(([k, v]) => `    ${k}: ${v}`);
    return [
      `#${f.index} ${f.request.method} ${f.request.path} as ${f.request.principal} → ${f.status || 'no answer'}: ${f.problem}`,
      `  mutations: ${f.mutations.join('; ') || 'none (valid-ish request)'}`,
      ...headers,
      ...(f.request.body !== undefined ? [`  body (${f.request.bodyBytes} bytes): ${f.request.body}`] : []),
      `  response: ${f.response}`,
      ...(f.serverLog?.length ? [`  server log: ${f.serverLog.join(' ⏎ ')}`] : []),
    ].join('\n');
  });
  const more = findings.length > max ? [`… and ${findings.length - max} more`] : [];
  return [...shown, ...more].join('\n\n');
}

export function describeStuckItems(items: StuckItem[]): string {
  return items.map((i) => `item ${i.itemId} (queue ${i.queueId}, row ${i.rowStatus} v${i.rowVersion}): ${i.problem}`).join('\n') || 'none';
}

// ───────────────────────────── values in a plan ─────────────────────────────

/** Which fixture resource a Ref points at. Items come and go during a run, so ids are looked up when the request is sent. */
type Pool =
  | 'mainQueue'
  | 'reviewQueue'
  | 'spareQueue'
  | 'reservedItem'
  | 'reviewItem'
  | 'skippedItem'
  | 'pendingItem'
  | 'anyItem'
  | 'score'
  | 'spareApiKey'
  | 'spareLabel'
  | 'anyLabel'
  | 'sourceType'
  | 'sourceId'
  | 'spanTrace'
  | 'span';

/** Small damage to a real id: it must still be refused cleanly (404/400), never reach Postgres as a bad uuid. */
type Twist = 'none' | 'upper' | 'nulSuffix' | 'spaceSuffix' | 'doubled' | 'truncated';

class Ref {
  constructor(
    readonly pool: Pool,
    readonly pick: number,
    readonly twist: Twist = 'none',
  ) {}
}

/** Written verbatim into the JSON text: numbers JSON.stringify cannot write (-0, 1e309), or invalid tokens (NaN). */
class Raw {
  constructor(readonly text: string) {}
}

/** About `length` code units before `suffix` (the value it replaced, so an email stays an email), built only when sent: plans stay small. */
class Huge {
  constructor(
    readonly length: number,
    readonly unit: string,
    readonly suffix = '',
  ) {}
}

/** `depth` nested arrays or objects, built as text only when sent (a JS value that deep would overflow the serializer). */
class Deep {
  constructor(
    readonly depth: number,
    readonly shape: 'array' | 'object',
  ) {}
}

type Tree = null | boolean | number | string | Ref | Raw | Huge | Deep | Tree[] | { [key: string]: Tree };
type Key = string | number;

const isSpecial = (v: Tree): v is Ref | Raw | Huge | Deep => v instanceof Ref || v instanceof Raw || v instanceof Huge || v instanceof Deep;
const isObject = (v: Tree): v is { [key: string]: Tree } => v !== null && typeof v === 'object' && !Array.isArray(v) && !isSpecial(v);

/** Sets an own property, also for "__proto__" (a plain assignment would set the prototype instead). */
function defineKey(target: { [key: string]: Tree }, key: string, value: Tree): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A deep copy: fast-check hands out shared constants (constantFrom), and mutations edit the copy in place. */
function cloneTree(v: Tree): Tree {
  if (Array.isArray(v)) return v.map(cloneTree);
  if (isObject(v)) {
    const copy: { [key: string]: Tree } = {};
    for (const [k, child] of Object.entries(v)) defineKey(copy, k, cloneTree(child));
    return copy;
  }
  return v;
}

function refsIn(v: Tree, out: Ref[] = []): Ref[] {
  if (v instanceof Ref) out.push(v);
  else if (Array.isArray(v)) v.forEach((c) => refsIn(c, out));
  else if (isObject(v)) Object.values(v).forEach((c) => refsIn(c, out));
  return out;
}

function deepText(d: Deep): string {
  return d.shape === 'array' ? '['.repeat(d.depth) + '1' + ']'.repeat(d.depth) : '{"a":'.repeat(d.depth) + '1' + '}'.repeat(d.depth);
}

function hugeText(h: Huge): string {
  return h.unit.repeat(Math.max(1, Math.floor(h.length / h.unit.length))) + h.suffix;
}

/** The JSON text of a tree. JSON.stringify writes a lone surrogate as the escape "\ud800", so those reach the server as such. */
function toJson(v: Tree, resolved: Map<Ref, string>): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Huge) return JSON.stringify(hugeText(v));
  if (v instanceof Deep) return deepText(v);
  if (v instanceof Ref) return JSON.stringify(resolved.get(v) ?? NO_SUCH_ID);
  if (Array.isArray(v)) return `[${v.map((c) => toJson(c, resolved)).join(',')}]`;
  if (isObject(v))
    return `{${Object.entries(v)
      .map(([k, c]) => `${JSON.stringify(k)}:${toJson(c, resolved)}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** A short description of a value for mutation labels: "<huge 1100000 × "a">" rather than the string. */
function describeValue(v: Tree): string {
  if (v instanceof Raw) return v.text;
  if (v instanceof Huge) return `<${v.length} × ${JSON.stringify(v.unit)}>${JSON.stringify(v.suffix).slice(0, 40)}`;
  if (v instanceof Deep) return `<${v.depth} nested ${v.shape}s>`;
  if (v instanceof Ref) return `<${v.pool}${v.twist === 'none' ? '' : ` ${v.twist}`}>`;
  const text = toJson(v, new Map());
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

// ───────────────────────────── catalogs of bad input ─────────────────────────────

/** Strings Postgres cannot store (NUL, lone surrogates) and other unicode edge cases, plus NaN-like numbers as strings. */
const POISON_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udc00',
  'x\ud800',
  '\udc00x',
  '\ud800\ud800',
  '\udbff\udfff',
  '\uffff',
  '\ufffe',
  '\ufeff',
  '\u202e',
  '\u2028\u2029',
  '\u0085',
  'e\u0301',
  '\u{1F600}',
  '\u{10FFFF}',
  '\u0007\u001b[31m',
  '\r\n',
  ' ',
  '',
  '\\u0000',
  '%00',
  'İß',
  'ＡＢＣ',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  'null',
  'true',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e308',
  '1e309',
  '-0',
  '0x10',
  ' 1 ',
];

/** Number tokens at the edges (written raw into the JSON text) and invalid ones (NaN, 01, .5: invalid JSON). */
const ODD_NUMBERS = [
  '-0',
  '-0.0',
  '1e308',
  '-1e308',
  '1e309',
  '-1e309',
  '1e-400',
  '5e-324',
  '1.7976931348623157e308',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '2147483648',
  '-2147483649',
  '1e21',
  '0.30000000000000004',
  '1.5',
  '1E2',
  '10.0',
  'NaN',
  'Infinity',
  '-Infinity',
  '01',
  '+1',
  '.5',
  '0x10',
];

/** Path segments, written raw into the URL: bad percent-encoding (%ff, %zz, overlong %C0%AF, an encoded surrogate %ED%A0%80), traversal, odd ids. */
const PATH_GARBAGE = [
  '%ff',
  '%zz',
  '%C0%AF',
  '%ED%A0%80',
  '%ED%B0%80',
  '%F4%90%80%80',
  '%E2%82',
  '%00',
  '%',
  '%%',
  '%2',
  '%EF%BB%BF',
  'a%2Fb',
  '%2e%2e',
  '%20',
  '+',
  '%5Cu0000',
  'null',
  'undefined',
  '0',
  '-1',
  '1e308',
  'NaN',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'x'.repeat(300),
  'x'.repeat(5000),
  encodeURIComponent('\u{1F600}'),
  encodeURIComponent("'; select 1; --"),
];

const QUERY_GARBAGE = [
  '',
  'abc',
  '-1',
  '0',
  '501',
  '1e308',
  'NaN',
  'Infinity',
  '-0',
  '0x10',
  '1.5',
  '%zz',
  '%ff',
  '%00',
  '%ED%A0%80',
  '%C0%AF',
  'true',
  '%5B%5D',
  'x'.repeat(3000),
  '0000-01-01T00:00:00Z',
  '%2B275760-09-13T00:00:00.000Z',
  '2024-02-30T00:00:00Z',
  '9999-12-31T23:59:59.999999999%2B14:00',
  '2024-01-01T00:00:00-24:00',
  '00000000-0000-0000-0000-000000000000',
];

const WRONG_CONTENT_TYPES: (string | null)[] = [
  null,
  '',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'application/json; charset=bogus',
  'APPLICATION/JSON',
  'application/vnd.api+json',
  'application/merge-patch+json',
  'text/json',
  '*/*',
];

const CONTENT_ENCODINGS = ['gzip', 'deflate', 'br', 'identity', 'gzip, deflate', 'x-gzip', 'compress', 'zstd', 'GZIP', 'gzip;q=1'];

/**
 * Authorization headers; {key} is the request's own principal's key. Headers stay short enough that the longest
 * request line and headers together keep under Node's 16 kB limit (its 431 is not the API's answer).
 */
const AUTH_HEADERS = [
  'Bearer',
  'Bearer ',
  'Basic dXNlcjpwYXNz',
  'Token {key}',
  '{key}',
  'Bearer {key} extra',
  'bearer   {key}  ',
  'Bearer {key}x',
  'Bearer {key},Bearer {key}',
  `Bearer qk_${'A'.repeat(40)}`,
  `Bearer ${'x'.repeat(2000)}`,
  'Bearer é',
];

const IDEMPOTENCY_KEYS = ['', ' ', 'k', 'fuzz-fixed-key', 'x'.repeat(201), 'x'.repeat(2000), 'é', '%00', 'a b'];

/** One exemplar per JSON type, for "wrong type" (the mutation takes the first whose type differs from the value's). */
const TYPE_EXEMPLARS: Tree[] = [0, 1.5, -1, '', 'x', '1', true, false, null, [], ['x'], {}, { a: 1 }];

const EXTRA_KEYS = ['__proto__', 'constructor', 'prototype', 'extra', '', '\u0000', '\ud800', 'é', '\u{1F600}', 'a'.repeat(300), '$where', 'toString', 'id'];
const UNKNOWN_QUERY_NAMES = ['colour', 'limit[]', '__proto__', 'LIMIT', 'cursor[]', '%zz', 'a%00b', '', 'constructor'];
const HUGE_LENGTHS = [201, 257, 5_001, 100_001, 1_100_000];
const HUGE_UNITS = ['a', 'é', '\u{1F600}', ' '];
const DEPTHS = [63, 64, 65, 100, 1_000, 10_000, 100_000];
const ARRAY_LENGTHS = [0, 11, 51, 101, 1_001];
/** Invalid UTF-8 spliced into the body: a stray 0xFF, an overlong "/", an encoded surrogate, a cut sequence, a code point past U+10FFFF. */
const BAD_BYTES = [[0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x80], [0x00]];
const JSON_TEXT_DAMAGE = [
  'truncated',
  'trailingComma',
  'singleQuotes',
  'bom',
  'comment',
  'rawControl',
  'unquotedKeys',
  'nanLiteral',
  'concatenated',
  'empty',
  'whitespace',
  'jsonp',
  'duplicateKeys',
  'protoKey',
  'hugeWhitespace',
  'trailingNul',
] as const;
type JsonTextDamage = (typeof JSON_TEXT_DAMAGE)[number];

/** Label settings that are valid for one type or another, so label writes sometimes get through. */
const LABEL_SETTINGS: Tree[] = [
  {},
  { options: ['x', 'y'] },
  { options: ['a', 'b'], multiChoice: true },
  { min: 0, max: 5, step: 0.5 },
  { stars: 3 },
  { maxLength: 10 },
];

// ───────────────────────────── operations from the OpenAPI document ─────────────────────────────

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  enum?: Tree[];
  const?: Tree;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  format?: string;
}

interface OpenApiOperation {
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

type PrincipalName = 'owner' | 'admin' | 'annotator' | 'annotatorB' | 'reviewer' | 'outsider' | 'foreignAdmin' | 'spareKey' | 'anonymous';
const PRINCIPALS: PrincipalName[] = ['owner', 'admin', 'annotator', 'annotatorB', 'reviewer', 'outsider', 'foreignAdmin', 'spareKey', 'anonymous'];

interface Operation {
  name: string;
  method: string;
  template: string;
  pathParams: string[];
  query: { name: string; required: boolean; schema: JsonSchema }[];
  body?: JsonSchema;
  /** Who may do it, and which fixture resource each path parameter names, so valid requests reach the deep code. */
  principal: PrincipalName;
  params: Record<string, Pool>;
  weight: number;
}

export function operationsOf(doc: OpenApiDocument): Operation[] {
  const ops: Operation[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, spec] of Object.entries(methods)) {
      const upper = method.toUpperCase();
      const targets = targetsOf(upper, template);
      const body = withEntrySchema(template, spec.requestBody?.content?.['application/json']?.schema);
      ops.push({
        name: `${upper} ${template}`,
        method: upper,
        template,
        pathParams: (spec.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        query: (spec.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, required: p.required ?? false, schema: p.schema ?? {} })),
        body,
        principal: spec.security?.length === 0 ? 'anonymous' : targets.principal,
        params: targets.params,
        weight: weightOf(template, body !== undefined),
      });
    }
  }
  return ops;
}

/**
 * The batch routes validate each entry in their handler (one bad entry must not fail the others), so the
 * document says only "an array"; their entries' schemas come from the contract, converted as api/openapi.ts
 * converts bodies, or nothing generated would get past the first entry check.
 */
const ENTRY_SCHEMAS: Record<string, z.ZodType> = { '/api/v1/sources': contract.sourceBody, '/api/v1/scores/bulk': contract.createScoreBody };

function withEntrySchema(template: string, body: JsonSchema | undefined): JsonSchema | undefined {
  const entry = ENTRY_SCHEMAS[template];
  if (!body || !entry || body.type !== 'array' || (body.items && Object.keys(body.items).length > 0)) return body;
  return { ...body, items: z.toJSONSchema(entry, { io: 'input', unrepresentable: 'any' }) as JsonSchema };
}

/** Annotating, reviewing and the write routes hold the rules worth hammering; reads get their share. */
function weightOf(template: string, hasBody: boolean): number {
  if (template.endsWith('/submit')) return 8;
  if (template.endsWith('/review') || template.startsWith('/v2/')) return 5;
  if (/\/(reserve|heartbeat|release|skip|next)$/.test(template)) return 2;
  return hasBody ? 3 : 1;
}

/**
 * The principal allowed to do an operation and the fixture resource of each path parameter. Destructive
 * operations (revoke a key, archive a label, delete or reconfigure a queue) get spare resources, so the
 * fixture the other requests rely on survives the run.
 */
function targetsOf(method: string, template: string): { principal: PrincipalName; params: Record<string, Pool> } {
  const onItem = (item: Pool, principal: PrincipalName, queue: Pool = 'mainQueue') => ({ principal, params: { id: queue, itemId: item } });
  if (template.startsWith('/api/v1/workspaces')) return { principal: 'owner', params: {} };
  if (template.startsWith('/api/v1/api-keys/')) return { principal: 'admin', params: { id: 'spareApiKey' } };
  if (template.startsWith('/api/v1/labels/')) return { principal: 'admin', params: { idOrKey: method === 'GET' ? 'anyLabel' : 'spareLabel' } };
  if (template.startsWith('/api/v1/sources/')) return { principal: 'admin', params: { type: 'sourceType', id: 'sourceId' } };
  if (template.startsWith('/api/v1/scores/')) return { principal: 'admin', params: { id: 'score' } };
  if (template.startsWith('/v2/')) return { principal: 'admin', params: { traceId: 'spanTrace', spanId: 'span' } };
  const action = /\/items\/\{itemId\}\/(\w+)$/.exec(template)?.[1];
  if (action === 'reserve') return onItem('pendingItem', 'annotator');
  if (action === 'submit' || action === 'heartbeat' || action === 'release' || action === 'skip') return onItem('reservedItem', 'annotator');
  if (action === 'review') return onItem('reviewItem', 'reviewer', 'reviewQueue');
  if (action === 'reset') return onItem('skippedItem', 'admin');
  if (template.includes('{itemId}')) return onItem('anyItem', 'admin');
  if (template.endsWith('/next')) return { principal: 'annotator', params: { id: 'mainQueue' } };
  if ((template === '/api/v1/queues/{id}' && method !== 'GET') || template.endsWith('/status')) return { principal: 'admin', params: { id: 'spareQueue' } };
  if (template.startsWith('/api/v1/queues/{id}')) return { principal: 'admin', params: { id: 'mainQueue' } };
  return { principal: 'admin', params: {} };
}

// ───────────────────────────── valid-ish values from the schemas ─────────────────────────────

/** What the fixture offers the generator: real keys and ids, so requests get past lookups. */
interface Statics {
  queueLabels: { key: string; id: string; valid: fc.Arbitrary<Tree> }[];
  labelKeys: string[];
  userIds: string[];
  sources: { type: string; id: string }[];
  traceIds: string[];
  mainQueueId: string;
  foreignIds: string[];
}

/** Fields that must agree with each other: when an object has all of them, `apply` makes them agree. */
interface Coupling {
  fields: string[];
  /** Only for the operations whose template matches. */
  op?: RegExp;
  apply: fc.Arbitrary<(o: { [key: string]: Tree }) => { [key: string]: Tree }>;
}

interface Generator {
  statics: Statics;
  couplings: Coupling[];
  /** Realistic values for a field by name (a label key, a user id…), mixed with what the schema alone allows. */
  hint(field: string, op: Operation): fc.Arbitrary<Tree> | undefined;
}

const refTo = (pool: Pool) => fc.nat(10_000).map((n) => new Ref(pool, n));

/** Settings valid for each label type, so a created label gets past its settings check. */
const SETTINGS_BY_TYPE: [string, Tree][] = [
  ['categorical', { options: ['x', 'y'] }],
  ['categorical', { options: ['a', 'b', 'c'], multiChoice: true }],
  ['numeric', { min: 0, max: 5, step: 0.5 }],
  ['numeric', {}],
  ['text', { maxLength: 10 }],
  ['star', { stars: 3 }],
  ['thumbs', {}],
];

function couplingsOf(statics: Statics, labelValue: fc.Arbitrary<{ key: string; value: Tree }>): Coupling[] {
  const set =
    (patch: { [key: string]: Tree }) =>
    (o: { [key: string]: Tree }): { [key: string]: Tree } => ({ ...o, ...patch });
  const without =
    (field: string, patch: { [key: string]: Tree }) =>
    (o: { [key: string]: Tree }): { [key: string]: Tree } => {
      const { [field]: _dropped, ...rest } = o;
      return { ...rest, ...patch };
    };
  return [
    { fields: ['label', 'value'], apply: labelValue.map(({ key, value }) => set({ label: key, value })) },
    { fields: ['key', 'value'], apply: labelValue.map(({ key, value }) => set({ key, value })) },
    { fields: ['sourceType', 'sourceId'], apply: fc.constantFrom(...statics.sources).map((s) => set({ sourceType: s.type, sourceId: s.id })) },
    { fields: ['type', 'settings'], op: /^\/api\/v1\/labels$/, apply: fc.constantFrom(...SETTINGS_BY_TYPE).map(([type, settings]) => set({ type, settings })) },
    // Overrides go with approve only.
    { fields: ['action', 'overrides'], apply: fc.constantFrom(set({ action: 'approve' }), without('overrides', { action: 'request_changes' })) },
  ];
}

function generatorOf(statics: Statics): Generator {
  const users = fc.constantFrom(...statics.userIds);
  // Whom a score is recorded for: an external identity (an SDK's reviewer), now and then a user of the workspace (refused with 403).
  const identities = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('ext-reviewer-1', 'reviewer@example.com', 'sdk:42') }, { weight: 1, arbitrary: users });
  const labelRefs = fc.constantFrom(...statics.queueLabels.flatMap((l) => [l.key, l.key, l.id]));
  const slug = fc.stringMatching(/^[a-z][a-z0-9_-]{1,20}$/);
  const labelValue = fc.oneof(...statics.queueLabels.map((l) => l.valid.map((value) => ({ key: l.key, value }))));
  const [rating, ...others] = statics.queueLabels;
  // Every required label (rating) once, the others maybe: a submission the item accepts.
  const validSubmission = fc
    .record({
      rating: rating!.valid,
      others: fc.tuple(...others.map((l) => fc.option(l.valid, { freq: 2 }))),
      notes: fc.option(fc.string({ maxLength: 30 }), { freq: 3 }),
    })
    .map(({ rating: value, others: values, notes }): Tree => [
      { label: rating!.key, value, ...(notes === null ? {} : { notes }) },
      ...values.flatMap((v, i) => (v === null ? [] : [{ label: others[i]!.key, value: v }])),
    ]);
  // The review queue's labels and its annotator (the one who submits the items awaiting review).
  const reviewLabels = fc.constantFrom('rating', 'note');
  const reviewHints: Record<string, fc.Arbitrary<Tree>> = {
    'targets[]': fc.record(
      { annotatorId: fc.constant(statics.userIds[0]!), label: reviewLabels, comment: fc.string({ maxLength: 20 }) },
      { requiredKeys: ['annotatorId', 'comment'] },
    ),
    'overrides[]': fc.oneof(
      fc.record({ label: fc.constant('rating'), value: fc.constantFrom('good', 'bad') }),
      fc.record({ label: fc.constant('note'), value: fc.string({ maxLength: 20 }) }),
    ),
  };
  const byField: Record<string, fc.Arbitrary<Tree>> = {
    label: labelRefs,
    key: fc.oneof(fc.constantFrom(...statics.labelKeys), slug),
    'keys[]': fc.constantFrom(...statics.labelKeys),
    userId: users,
    annotatorId: users,
    identityId: identities,
    identity_id: identities,
    reviewerId: identities,
    reviewer_id: identities,
    assignee: users,
    'userIds[]': users,
    'itemIds[]': refTo('anyItem'),
    parentAnnotationId: refTo('score'),
    parent_annotation_id: refTo('score'),
    'parentAnnotationIds[]': refTo('score'),
    'parent_annotation_ids[]': refTo('score'),
    sourceId: fc.constantFrom(...statics.sources.map((s) => s.id)),
    traceId: fc.constantFrom(...statics.traceIds),
    settings: fc.constantFrom(...LABEL_SETTINGS),
    queueId: fc.constant(statics.mainQueueId),
    cursor: fc.uuid(),
    name: fc.string({ minLength: 1, maxLength: 20 }),
  };
  return {
    statics,
    couplings: couplingsOf(statics, labelValue),
    hint(field, op) {
      if (field === 'annotations' && op.template.endsWith('/submit')) return validSubmission;
      if (op.template.endsWith('/review') && reviewHints[field]) return reviewHints[field];
      if (field === 'id' && op.template === '/api/v1/sources') return fc.oneof(fc.constantFrom(...statics.sources.map((s) => s.id)), slug);
      return byField[field];
    },
  };
}

/** A value the schema allows, with field hints mixed in four to one. Arrays stay short: the mutations make them long. */
function schemaArb(schema: JsonSchema, field: string, op: Operation, gen: Generator, depth = 0): fc.Arbitrary<Tree> {
  const plain = plainSchemaArb(schema, field, op, gen, depth);
  const hinted = gen.hint(field, op);
  return hinted ? fc.oneof({ arbitrary: hinted, weight: 4 }, { arbitrary: plain, weight: 1 }) : plain;
}

function plainSchemaArb(schema: JsonSchema, field: string, op: Operation, gen: Generator, depth: number): fc.Arbitrary<Tree> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum?.length) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives?.length) return fc.oneof(...alternatives.map((s) => schemaArb(s, field, op, gen, depth)));
  if (schema.allOf?.length) return schemaArb(Object.assign({}, ...schema.allOf) as JsonSchema, field, op, gen, depth);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object':
      return objectArb(schema, op, gen, depth);
    case 'array': {
      const min = schema.minItems ?? 0;
      return fc.array(schemaArb(schema.items ?? {}, `${field}[]`, op, gen, depth + 1), {
        minLength: min,
        maxLength: Math.max(min, Math.min(schema.maxItems ?? 3, 3)),
      });
    }
    case 'string':
      return stringArb(schema);
    case 'integer': {
      const [min, max] = bounds(schema, 1_000);
      return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
    }
    case 'number': {
      const [min, max] = bounds(schema, 1_000);
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
    }
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return depth > 3 ? fc.constant('x') : (fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Tree>);
  }
}

function bounds(schema: JsonSchema, span: number): [number, number] {
  const min = Math.max(schema.minimum ?? -span, -1_000_000);
  const max = Math.min(schema.maximum ?? span, 1_000_000);
  return min <= max ? [min, max] : [max, min];
}

function stringArb(schema: JsonSchema): fc.Arbitrary<Tree> {
  if (schema.format === 'email')
    return fc.oneof(
      // fast-check's addresses follow the RFC; zod accepts fewer of them. Mostly the plain form.
      { weight: 1, arbitrary: fc.emailAddress() },
      { weight: 3, arbitrary: fc.uuid().map((u) => `fuzz-${u.slice(0, 8)}@example.com`) },
    );
  if (schema.format === 'date-time')
    return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
  const min = schema.minLength ?? 0;
  return fc.string({ minLength: min, maxLength: Math.max(min, Math.min(schema.maxLength ?? 24, 24)) });
}

/** A property left out of a generated object. */
const ABSENT = Symbol('absent');

/**
 * An object with the required properties and some optional ones: half of the typed ones, one in six of
 * those the schema leaves open ({}: label's "type" on PATCH is one, which any value makes a 400).
 * Then the generator's couplings (a label with a value of its own, a source's type with its id…) make
 * two in three objects consistent, or nothing would get past the rules that tie fields together.
 */
function objectArb(schema: JsonSchema, op: Operation, gen: Generator, depth: number): fc.Arbitrary<Tree> {
  const props = Object.entries(schema.properties ?? {});
  if (props.length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Tree>, { maxKeys: 3 });
  const required = new Set(schema.required ?? []);
  const entries = props.map(([key, s]) => {
    const value = schemaArb(s, key, op, gen, depth + 1);
    if (required.has(key)) return value.map((v) => [key, v] as const);
    const rarity = Object.keys(s).some((k) => k === 'type' || k === 'anyOf' || k === 'enum') ? 1 : 5;
    return fc.oneof({ weight: rarity, arbitrary: fc.constant(ABSENT) }, { weight: 1, arbitrary: value }).map((v) => [key, v] as const);
  });
  const object = fc.tuple(...entries).map((pairs) => {
    const o: { [key: string]: Tree } = {};
    for (const [k, v] of pairs) if (v !== ABSENT) defineKey(o, k, v);
    return o;
  });
  const couplings = gen.couplings.filter((c) => c.fields.every((f) => schema.properties?.[f] !== undefined) && (!c.op || c.op.test(op.template)));
  if (couplings.length === 0) return object;
  return fc
    .tuple(object, ...couplings.map((c) => fc.option(c.apply, { freq: 3 })))
    .map(([o, ...fixes]) => fixes.reduce<{ [key: string]: Tree }>((acc, fix) => (fix ? fix(acc) : acc), o));
}

// ───────────────────────────── plans and mutations ─────────────────────────────

type BodyPlan =
  | { kind: 'none' }
  | { kind: 'json'; tree: Tree }
  | { kind: 'damagedJson'; tree: Tree; damage: JsonTextDamage; at: number }
  | { kind: 'badBytes'; tree: Tree; bytes: number[] | 'utf16le' | 'latin1'; at: number }
  | { kind: 'gzip'; tree: Tree; bomb: boolean };

/** Everything needed to send one request, with real ids left as Refs until it is sent. */
interface Plan {
  op: number;
  principal: PrincipalName;
  /** Replaces the principal's "Bearer <key>" ({key} stands for it). */
  authorization?: string;
  path: Record<string, Ref | string>;
  query: [string, Ref | string][];
  body: BodyPlan;
  /** null: no Content-Type header. */
  contentType: string | null;
  headers: Record<string, string>;
  mutations: string[];
}

type Mutation =
  | { kind: 'wrongType'; at: number; pick: number }
  | { kind: 'missingField'; at: number }
  | { kind: 'extraField'; at: number; key: string; value: Tree }
  | { kind: 'hugeString'; at: number; length: number; unit: string; keepValue: boolean }
  | { kind: 'deepNesting'; at: number; depth: number; shape: 'array' | 'object' }
  | { kind: 'unicode'; at: number; text: string; insert: boolean }
  | { kind: 'oddNumber'; at: number; token: string; asString: boolean }
  | { kind: 'arrayLength'; at: number; length: number }
  | { kind: 'jsonText'; damage: JsonTextDamage; at: number }
  | { kind: 'badBytes'; bytes: number[] | 'utf16le' | 'latin1'; at: number }
  | { kind: 'nonObjectBody'; value: Tree }
  | { kind: 'noBody' }
  | { kind: 'unexpectedBody'; value: Tree }
  | { kind: 'contentType'; value: string | null }
  | { kind: 'contentEncoding'; value: string; body: 'plain' | 'gzip' | 'bomb' }
  | { kind: 'principal'; who: PrincipalName }
  | { kind: 'authorization'; value: string }
  | { kind: 'idempotencyKey'; value: string }
  | { kind: 'pathParam'; at: number; value: Ref | string }
  | { kind: 'queryValue'; at: number; value: string }
  | { kind: 'queryUnknown'; name: string; value: string }
  | { kind: 'queryRepeat'; at: number };

const at = fc.nat(10_000);
/** Any string fast-check can make, lone surrogates included, or one from the catalog. */
const unicodeText = fc.oneof(fc.constantFrom(...POISON_STRINGS), fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 8 }));
const POOL_TWISTS: Twist[] = ['upper', 'nulSuffix', 'spaceSuffix', 'doubled', 'truncated'];

function pathGarbage(op: Operation, gen: Generator): fc.Arbitrary<Ref | string> {
  const pools = Object.values(op.params);
  const twisted =
    pools.length > 0
      ? fc.tuple(fc.constantFrom(...pools), fc.nat(10_000), fc.constantFrom(...POOL_TWISTS)).map(([pool, pick, twist]) => new Ref(pool, pick, twist))
      : fc.constant('x');
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...PATH_GARBAGE) },
    { weight: 1, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.constantFrom(...gen.statics.foreignIds) },
    { weight: 2, arbitrary: twisted },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }).map(percentEncode) },
  );
}

/** The mutations that do not depend on the operation, one arbitrary each. */
const MUTATIONS = {
  principal: fc.constantFrom(...PRINCIPALS).map((who): Mutation => ({ kind: 'principal', who })),
  authorization: fc.constantFrom(...AUTH_HEADERS).map((value): Mutation => ({ kind: 'authorization', value })),
  queryUnknown: fc
    .record({ name: fc.constantFrom(...UNKNOWN_QUERY_NAMES), value: fc.constantFrom('1', '', '%zz', 'x') })
    .map((q): Mutation => ({ kind: 'queryUnknown', ...q })),
  queryValue: fc.record({ at, value: fc.constantFrom(...QUERY_GARBAGE) }).map((m): Mutation => ({ kind: 'queryValue', ...m })),
  queryRepeat: at.map((n): Mutation => ({ kind: 'queryRepeat', at: n })),
  wrongType: fc.record({ at, pick: fc.nat(TYPE_EXEMPLARS.length - 1) }).map((m): Mutation => ({ kind: 'wrongType', ...m })),
  missingField: at.map((n): Mutation => ({ kind: 'missingField', at: n })),
  extraField: fc
    .record({ at, key: fc.oneof(fc.constantFrom(...EXTRA_KEYS), fc.string({ maxLength: 6 })), value: fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Tree> })
    .map((m): Mutation => ({ kind: 'extraField', ...m })),
  hugeString: fc
    .record({ at, length: fc.constantFrom(...HUGE_LENGTHS), unit: fc.constantFrom(...HUGE_UNITS), keepValue: fc.boolean() })
    .map((m): Mutation => ({ kind: 'hugeString', ...m })),
  deepNesting: fc
    .record({ at, depth: fc.constantFrom(...DEPTHS), shape: fc.constantFrom('array' as const, 'object' as const) })
    .map((m): Mutation => ({ kind: 'deepNesting', ...m })),
  unicode: fc.record({ at, text: unicodeText, insert: fc.boolean() }).map((m): Mutation => ({ kind: 'unicode', ...m })),
  oddNumber: fc.record({ at, token: fc.constantFrom(...ODD_NUMBERS), asString: fc.boolean() }).map((m): Mutation => ({ kind: 'oddNumber', ...m })),
  arrayLength: fc.record({ at, length: fc.constantFrom(...ARRAY_LENGTHS) }).map((m): Mutation => ({ kind: 'arrayLength', ...m })),
  jsonText: fc.record({ damage: fc.constantFrom(...JSON_TEXT_DAMAGE), at }).map((m): Mutation => ({ kind: 'jsonText', ...m })),
  badBytes: fc
    .record({ bytes: fc.oneof(fc.constantFrom(...BAD_BYTES), fc.constantFrom('utf16le' as const, 'latin1' as const)), at })
    .map((m): Mutation => ({ kind: 'badBytes', ...m })),
  nonObjectBody: fc.constantFrom<Tree>('x', 1, null, true, [], '"', 0).map((value): Mutation => ({ kind: 'nonObjectBody', value })),
  noBody: fc.constant<Mutation>({ kind: 'noBody' }),
  contentType: fc.constantFrom(...WRONG_CONTENT_TYPES).map((value): Mutation => ({ kind: 'contentType', value })),
  unexpectedBody: (fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Tree>).map((value): Mutation => ({ kind: 'unexpectedBody', value })),
  // Mostly the case of the issue, a Content-Encoding on a plain body; sometimes a real gzip body, or one that inflates past the limit.
  contentEncoding: fc
    .record({ value: fc.constantFrom(...CONTENT_ENCODINGS), body: fc.constantFrom('plain' as const, 'plain' as const, 'gzip' as const, 'bomb' as const) })
    .map((m): Mutation => ({ kind: 'contentEncoding', ...m })),
  idempotencyKey: fc
    .oneof(fc.constantFrom(...IDEMPOTENCY_KEYS), fc.uuid(), fc.string({ minLength: 1, maxLength: 40 }))
    .map((value): Mutation => ({ kind: 'idempotencyKey', value })),
};

/** The mutations that make sense for an operation, weighted: body damage where there is a body, path garbage where there are parameters. */
function mutationArb(op: Operation, gen: Generator): fc.Arbitrary<Mutation> {
  const w = (weight: number, arbitrary: fc.Arbitrary<Mutation>) => ({ weight, arbitrary });
  const m = MUTATIONS;
  const choices = [w(2, m.principal), w(1, m.authorization), w(1, m.queryUnknown)];
  if (op.pathParams.length > 0)
    choices.push(
      w(
        4,
        fc.record({ at, value: pathGarbage(op, gen) }).map((p): Mutation => ({ kind: 'pathParam', ...p })),
      ),
    );
  if (op.query.length > 0) choices.push(w(3, m.queryValue), w(1, m.queryRepeat));
  if (op.body) {
    choices.push(w(4, m.wrongType), w(2, m.missingField), w(2, m.extraField), w(2, m.hugeString), w(1, m.deepNesting), w(5, m.unicode));
    choices.push(w(2, m.oddNumber), w(1, m.arrayLength), w(2, m.jsonText), w(1, m.badBytes), w(1, m.nonObjectBody), w(1, m.noBody), w(2, m.contentType));
  } else if (op.method !== 'GET') {
    choices.push(w(1, m.unexpectedBody));
  }
  if (op.method !== 'GET') choices.push(w(2, m.contentEncoding));
  if (op.template.endsWith('/submit')) choices.push(w(2, m.idempotencyKey));
  return fc.oneof(...choices);
}

function queryArb(op: Operation, gen: Generator): fc.Arbitrary<[string, Ref | string][]> {
  const params = op.query.map((p) => schemaArb(p.schema, p.name, op, gen).map((v) => [p.name, v instanceof Ref ? v : queryText(v)] as [string, Ref | string]));
  return fc.tuple(...params.map((p, i) => (op.query[i]!.required ? p : fc.option(p, { freq: 3 })))).map((entries) => entries.filter((e) => e !== null));
}

function queryText(v: Tree): string {
  if (typeof v === 'string') return encodeURIComponent(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return encodeURIComponent(toJson(v, new Map()));
}

/** UTF-8 percent-encoding that never throws (encodeURIComponent does on a lone surrogate; Buffer writes U+FFFD). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

const refOrNothing = (pool: Pool | undefined, pick: number): Ref | string => (pool ? new Ref(pool, pick) : NO_SUCH_ID);

function planArb(index: number, op: Operation, gen: Generator): fc.Arbitrary<Plan> {
  return fc
    .record({
      pick: fc.nat(10_000),
      body: op.body ? schemaArb(op.body, '', op, gen) : fc.constant(undefined),
      query: queryArb(op, gen),
      mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: fc.array(mutationArb(op, gen), { minLength: 1, maxLength: 3 }) }),
    })
    .map(({ pick, body, query, mutations }) => {
      const plan: Plan = {
        op: index,
        principal: op.principal,
        // One pick for every parameter, so a source's type and id (or a span and its trace) come from the same source.
        path: Object.fromEntries(op.pathParams.map((name) => [name, refOrNothing(op.params[name], pick)])),
        query,
        body: body === undefined ? { kind: 'none' } : { kind: 'json', tree: cloneTree(body) },
        contentType: body === undefined ? null : 'application/json',
        headers: {},
        mutations: [],
      };
      for (const m of mutations) plan.mutations.push(applyMutation(plan, op, m));
      return plan;
    });
}

/**
 * The plans of a run: one per operation first (every operation is covered whatever the count), then
 * weighted draws. fc.sample with the seed: the same seed gives the same plans.
 */
function generatePlans(ops: Operation[], gen: Generator, count: number, seed: number): Plan[] {
  const each = fc.sample(fc.tuple(...ops.map((op, i) => planArb(i, op, gen))), { seed, numRuns: 1 })[0] ?? [];
  const weighted = fc.oneof(...ops.map((op, i) => ({ weight: op.weight, arbitrary: planArb(i, op, gen) })));
  const rest = count > each.length ? fc.sample(weighted, { seed: seed + 1, numRuns: count - each.length }) : [];
  return [...each, ...rest].slice(0, count);
}

// ─── applying a mutation: edits the plan, returns its label for the report ───

interface TreeNode {
  path: Key[];
  value: Tree;
}

function nodesOf(tree: Tree, limit = 400): TreeNode[] {
  const out: TreeNode[] = [];
  const stack: TreeNode[] = [{ path: [], value: tree }];
  while (stack.length > 0 && out.length < limit) {
    const node = stack.pop()!;
    out.push(node);
    const children: [Key, Tree][] = Array.isArray(node.value) ? node.value.map((v, i) => [i, v]) : isObject(node.value) ? Object.entries(node.value) : [];
    for (const [k, v] of children.reverse()) stack.push({ path: [...node.path, k], value: v });
  }
  return out;
}

/** The at-th (modulo) node that `prefer` accepts, or of all nodes when none does. */
function chooseNode(tree: Tree, at: number, prefer: (v: Tree) => boolean): TreeNode {
  const all = nodesOf(tree);
  const preferred = all.filter((n) => prefer(n.value));
  const from = preferred.length > 0 ? preferred : all;
  return from[at % from.length]!;
}

function getAt(root: Tree, path: Key[]): Tree {
  return path.reduce<Tree>((node, k) => (node as Record<Key, Tree>)[k]!, root);
}

function replaceAt(root: Tree, path: Key[], value: Tree): Tree {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1));
  const last = path[path.length - 1]!;
  if (Array.isArray(parent)) parent[last as number] = value;
  else defineKey(parent as { [key: string]: Tree }, String(last), value);
  return root;
}

const pathLabel = (path: Key[]) => (path.length ? `body.${path.join('.')}` : 'body');
const typeOf = (v: Tree) => (v === null ? 'null' : Array.isArray(v) ? 'array' : isSpecial(v) ? 'special' : typeof v);

function treeOf(plan: Plan): Tree | undefined {
  return plan.body.kind === 'none' ? undefined : plan.body.tree;
}

function setTree(plan: Plan, tree: Tree): void {
  if (plan.body.kind !== 'none') plan.body.tree = tree;
}

/** Mutations of the JSON body: skipped when the body is gone (an earlier noBody) or the route takes none. */
const TREE_MUTATIONS = new Set<Mutation['kind']>([
  'wrongType',
  'missingField',
  'extraField',
  'hugeString',
  'deepNesting',
  'unicode',
  'oddNumber',
  'arrayLength',
  'jsonText',
  'badBytes',
]);

function applyMutation(plan: Plan, op: Operation, m: Mutation): string {
  const tree = treeOf(plan);
  if (TREE_MUTATIONS.has(m.kind) && tree === undefined) return `${m.kind}: skipped (no JSON body)`;
  switch (m.kind) {
    case 'wrongType': {
      const node = chooseNode(tree!, m.at, () => true);
      const value = TYPE_EXEMPLARS.map((_, i) => TYPE_EXEMPLARS[(m.pick + i) % TYPE_EXEMPLARS.length]!).find((v) => typeOf(v) !== typeOf(node.value)) ?? null;
      setTree(plan, replaceAt(tree!, node.path, cloneTree(value)));
      return `wrongType ${pathLabel(node.path)} = ${describeValue(value)}`;
    }
    case 'missingField': {
      // A property of an object: the root itself cannot go missing (noBody does that).
      const node = chooseNode(tree!, m.at, () => true);
      const parent = node.path.length > 0 ? getAt(tree!, node.path.slice(0, -1)) : undefined;
      if (parent === undefined || !isObject(parent)) return 'missingField: skipped (no object property there)';
      delete parent[String(node.path[node.path.length - 1])];
      return `missingField ${pathLabel(node.path)}`;
    }
    case 'extraField': {
      const node = chooseNode(tree!, m.at, isObject);
      if (!isObject(node.value)) return 'extraField: skipped (no object in the body)';
      defineKey(node.value, m.key, cloneTree(m.value));
      return `extraField ${pathLabel([...node.path, m.key])} = ${describeValue(m.value)}`;
    }
    case 'hugeString': {
      const node = chooseNode(tree!, m.at, (v) => typeof v === 'string');
      const huge = new Huge(m.length, m.unit, m.keepValue && typeof node.value === 'string' ? node.value : '');
      setTree(plan, replaceAt(tree!, node.path, huge));
      return `hugeString ${pathLabel(node.path)} = ${describeValue(huge)}`;
    }
    case 'deepNesting': {
      const node = chooseNode(tree!, m.at, () => true);
      setTree(plan, replaceAt(tree!, node.path, new Deep(m.depth, m.shape)));
      return `deepNesting ${pathLabel(node.path)} = ${describeValue(new Deep(m.depth, m.shape))}`;
    }
    case 'unicode': {
      const node = chooseNode(tree!, m.at, (v) => typeof v === 'string');
      const value = m.insert && typeof node.value === 'string' ? node.value.slice(0, 1) + m.text + node.value.slice(1) : m.text;
      setTree(plan, replaceAt(tree!, node.path, value));
      return `unicode ${pathLabel(node.path)} = ${JSON.stringify(value).slice(0, 80)}`;
    }
    case 'oddNumber': {
      const node = chooseNode(tree!, m.at, (v) => typeof v === 'number');
      const value = m.asString ? m.token : new Raw(m.token);
      setTree(plan, replaceAt(tree!, node.path, value));
      return `oddNumber ${pathLabel(node.path)} = ${m.asString ? JSON.stringify(m.token) : m.token}`;
    }
    case 'arrayLength': {
      const node = chooseNode(tree!, m.at, Array.isArray);
      if (!Array.isArray(node.value)) return 'arrayLength: skipped (no array in the body)';
      const first = node.value[0] ?? 'x';
      setTree(
        plan,
        replaceAt(
          tree!,
          node.path,
          Array.from({ length: m.length }, () => cloneTree(first)),
        ),
      );
      return `arrayLength ${pathLabel(node.path)} = ${m.length} entries`;
    }
    case 'jsonText':
      plan.body = { kind: 'damagedJson', tree: tree!, damage: m.damage, at: m.at };
      return `jsonText ${m.damage}`;
    case 'badBytes':
      plan.body = { kind: 'badBytes', tree: tree!, bytes: m.bytes, at: m.at };
      return `badBytes ${typeof m.bytes === 'string' ? `body encoded as ${m.bytes}` : m.bytes.map((b) => `\\x${b.toString(16)}`).join('')}`;
    case 'nonObjectBody':
      plan.body = { kind: 'json', tree: m.value };
      return `nonObjectBody ${describeValue(m.value)}`;
    case 'noBody':
      plan.body = { kind: 'none' };
      return 'noBody (Content-Type kept)';
    case 'unexpectedBody':
      plan.body = { kind: 'json', tree: cloneTree(m.value) };
      plan.contentType = 'application/json';
      return `unexpectedBody ${describeValue(m.value)}`;
    case 'contentType':
      plan.contentType = m.value;
      return `contentType ${m.value === null ? '(none)' : JSON.stringify(m.value)}`;
    case 'contentEncoding':
      plan.headers['content-encoding'] = m.value;
      if (m.body !== 'plain') plan.body = { kind: 'gzip', tree: tree ?? {}, bomb: m.body === 'bomb' };
      if (m.body !== 'plain') plan.contentType ??= 'application/json';
      return `contentEncoding ${JSON.stringify(m.value)} on a ${m.body === 'plain' ? 'plain' : m.body === 'gzip' ? 'gzipped' : 'gzip bomb'} body`;
    case 'principal':
      plan.principal = m.who;
      return `principal ${m.who}`;
    case 'authorization':
      plan.authorization = m.value;
      return `authorization ${JSON.stringify(m.value.length > 60 ? `${m.value.slice(0, 60)}…` : m.value)}`;
    case 'idempotencyKey':
      plan.headers['idempotency-key'] = m.value;
      return `idempotencyKey ${JSON.stringify(m.value.length > 60 ? `${m.value.slice(0, 60)}…` : m.value)}`;
    case 'pathParam': {
      const name = op.pathParams[m.at % op.pathParams.length]!;
      plan.path[name] = m.value;
      return `pathParam ${name} = ${m.value instanceof Ref ? describeValue(m.value) : m.value.slice(0, 60)}`;
    }
    case 'queryValue': {
      const entry = plan.query[m.at % Math.max(1, plan.query.length)];
      const name = entry?.[0] ?? op.query[m.at % op.query.length]!.name;
      if (entry) entry[1] = m.value;
      else plan.query.push([name, m.value]);
      return `queryValue ${name} = ${m.value.slice(0, 60)}`;
    }
    case 'queryUnknown':
      plan.query.push([m.name, m.value]);
      return `queryUnknown ${m.name}=${m.value}`;
    case 'queryRepeat': {
      const entry = plan.query[m.at % Math.max(1, plan.query.length)] ?? [op.query[0]!.name, '1'];
      plan.query.push([entry[0], entry[1]], [entry[0], '2']);
      return `queryRepeat ${entry[0]}`;
    }
  }
}

// ───────────────────────────── building the bytes of a request ─────────────────────────────

function damageJson(text: string, damage: JsonTextDamage, at: number): string {
  switch (damage) {
    case 'truncated':
      return text.slice(0, Math.max(1, at % Math.max(1, text.length)));
    case 'trailingComma':
      return text.replace(/([}\]])\s*$/, ',$1');
    case 'singleQuotes':
      return text.replaceAll('"', "'");
    case 'bom':
      return `\ufeff${text}`;
    case 'comment':
      return `/* note */${text}`;
    case 'rawControl':
      return text.includes('"') ? text.replace('"', '"\u0001\n') : `"\u0001"`;
    case 'unquotedKeys':
      return text.replace(/"(\w+)":/g, '$1:');
    case 'nanLiteral':
      return text.replace(/:("[^"]*"|-?\d[\d.eE+-]*|true|false|null)/, ':NaN');
    case 'concatenated':
      return `${text}${text}`;
    case 'empty':
      return '';
    case 'whitespace':
      return ' \n\t ';
    case 'jsonp':
      return `callback(${text})`;
    case 'duplicateKeys':
      return text.startsWith('{') ? text.replace('{', text === '{}' ? '{"a":1,"a":2' : '{"a":1,"a":2,') : `{"a":1,"a":2,"v":${text}}`;
    case 'protoKey':
      return text.startsWith('{') ? text.replace('{', text === '{}' ? '{"__proto__":{"isOwner":true}' : '{"__proto__":{"isOwner":true},') : text;
    case 'hugeWhitespace':
      return `${' '.repeat(1_100_000)}${text}`;
    case 'trailingNul':
      return `${text}\u0000`;
  }
}

/** Splices invalid UTF-8 into the body, inside a string where there is one (so it is not simply a JSON syntax error). */
function badBytesBody(text: string, bytes: number[] | 'utf16le' | 'latin1', at: number): Buffer {
  if (typeof bytes === 'string') return Buffer.from(text, bytes);
  const buffer = Buffer.from(text, 'utf8');
  const quotes = [...buffer.keys()].filter((i) => buffer[i] === 0x22);
  const position = quotes.length > 0 ? quotes[at % quotes.length]! + 1 : at % Math.max(1, buffer.length);
  return Buffer.concat([buffer.subarray(0, position), Buffer.from(bytes), buffer.subarray(position)]);
}

function bodyBytesOf(body: BodyPlan, resolved: Map<Ref, string>): string | Buffer | undefined {
  switch (body.kind) {
    case 'none':
      return undefined;
    case 'json':
      return toJson(body.tree, resolved);
    case 'damagedJson':
      return damageJson(toJson(body.tree, resolved), body.damage, body.at);
    case 'badBytes':
      return badBytesBody(toJson(body.tree, resolved), body.bytes, body.at);
    case 'gzip':
      // A bomb: 8 MB of whitespace before the JSON inflate past every body limit from a few kB on the wire.
      return gzipSync(Buffer.from(body.bomb ? ' '.repeat(8 * 1024 * 1024) + toJson(body.tree, resolved) : toJson(body.tree, resolved)));
  }
}

function applyTwist(id: string, twist: Twist): string {
  switch (twist) {
    case 'none':
      return id;
    case 'upper':
      return id.toUpperCase();
    case 'nulSuffix':
      return `${id}\u0000`;
    case 'spaceSuffix':
      return `${id} `;
    case 'doubled':
      return `${id}${id}`;
    case 'truncated':
      return id.slice(0, -1);
  }
}

function preview(body: string | Buffer | undefined): string | undefined {
  if (body === undefined) return undefined;
  const text =
    typeof body === 'string'
      ? body
      : [...body.subarray(0, PREVIEW_CHARS)].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
}

/** A request ready to send, what the report shows of it, and the fixture resources it names. */
interface Wire {
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  shown: SentRequest;
  /** Text the API may legitimately echo back (path and body): a "leak" found in it is the request's own text. */
  echo: string;
  itemId?: string;
  queueId?: string;
}

async function materialize(plan: Plan, op: Operation, live: Live): Promise<Wire> {
  const tree = treeOf(plan);
  const refs = [...Object.values(plan.path), ...plan.query.map(([, v]) => v), ...(tree === undefined ? [] : refsIn(tree))].filter((r) => r instanceof Ref);
  const resolved = new Map<Ref, string>();
  for (const ref of refs) resolved.set(ref, await live.resolve(ref));
  const segment = (v: Ref | string) => (v instanceof Ref ? percentEncode(resolved.get(v)!) : v);
  const path = op.template.replace(/\{(\w+)\}/g, (_, name: string) => segment(plan.path[name] ?? NO_SUCH_ID));
  const query = plan.query.map(([k, v]) => `${k}=${v instanceof Ref ? percentEncode(resolved.get(v)!) : v}`).join('&');
  const body = bodyBytesOf(plan.body, resolved);
  const headers: Record<string, string> = { ...plan.headers };
  if (plan.contentType !== null) headers['content-type'] = plan.contentType;
  const authorization = live.authorizationOf(plan);
  const fullPath = query ? `${path}?${query}` : path;
  const cleanRef = (name: string) => {
    const v = plan.path[name];
    return v instanceof Ref && v.twist === 'none' ? resolved.get(v) : undefined;
  };
  return {
    method: op.method,
    path: fullPath,
    headers: authorization === undefined ? headers : { ...headers, authorization },
    body,
    shown: {
      method: op.method,
      path: fullPath.length > PREVIEW_CHARS ? `${fullPath.slice(0, PREVIEW_CHARS)}…` : fullPath,
      principal:
        plan.authorization === undefined ? plan.principal : `${plan.principal} (Authorization: ${plan.authorization.slice(0, 60).replace('{key}', '<key>')})`,
      headers,
      body: preview(body),
      bodyBytes: body === undefined ? undefined : Buffer.byteLength(body),
    },
    echo: `${decodeSafely(fullPath)}\n${typeof body === 'string' ? body.slice(0, 200_000) : ''}`,
    itemId: op.pathParams.includes('itemId') ? cleanRef('itemId') : undefined,
    queueId: op.template.startsWith('/api/v1/queues/{id}') ? cleanRef('id') : undefined,
  };
}

function decodeSafely(text: string): string {
  try {
    return `${text}\n${decodeURIComponent(text)}`;
  } catch {
    return text;
  }
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
  error?: string;
}

/** fetch with a timeout (the helpers' ApiClient has none, and cannot send bytes); every failure becomes status 0. */
async function send(baseUrl: string, wire: { method: string; path: string; headers: Record<string, string>; body?: string | Buffer }): Promise<Answer> {
  try {
    const response = await fetch(`${baseUrl}${wire.path}`, {
      method: wire.method,
      headers: wire.headers,
      // A copy as a plain Uint8Array: fetch's BodyInit takes no Buffer.
      body: Buffer.isBuffer(wire.body) ? new Uint8Array(wire.body) : wire.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return { status: response.status, contentType: response.headers.get('content-type') ?? '', text: await response.text() };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    return { status: 0, contentType: '', text: '', error: `${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? ''} ${e.cause.message ?? ''})` : ''}` };
  }
}

// ───────────────────────────── checks ─────────────────────────────

/** DESIGN.md §5: the codes each 4xx status may carry. */
const CODES_BY_STATUS: Record<number, string[]> = {
  400: ['VALIDATION'],
  401: ['UNAUTHENTICATED'],
  403: ['FORBIDDEN'],
  404: ['NOT_FOUND'],
  409: ['CONFLICT', 'INVALID_TRANSITION'],
  413: ['PAYLOAD_TOO_LARGE'],
  429: ['RATE_LIMITED'],
};

/** Why a 4xx answer is not exactly {"error":{"code","message",details?}} with a code of its status, or undefined. */
export function envelopeProblem(status: number, contentType: string, text: string): string | undefined {
  if (!contentType.includes('application/json')) return `Content-Type is ${JSON.stringify(contentType)}, not JSON`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'body is not JSON';
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'body is not an object';
  const keys = Object.keys(body);
  if (keys.length !== 1 || keys[0] !== 'error') return `top-level keys are ${JSON.stringify(keys)}, not ["error"]`;
  const error = (body as { error: unknown }).error;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return 'error is not an object';
  const extra = Object.keys(error).filter((k) => !['code', 'message', 'details'].includes(k));
  if (extra.length > 0) return `error has unexpected keys ${JSON.stringify(extra)}`;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string' || message.length === 0) return 'error.code or error.message is missing or not a string';
  const allowed = CODES_BY_STATUS[status];
  if (!allowed) return `status ${status} is not one of DESIGN.md §5`;
  if (!allowed.includes(code)) return `code ${code} does not go with status ${status} (expected ${allowed.join(' or ')})`;
  return undefined;
}

/** Stack frames, source paths and Postgres driver text: none of it may leave the server. */
const LEAK_PATTERNS: [string, RegExp][] = [
  ['stack frame', /\bat (?:async )?[\w$.<>[\]]+ \([^)]*:\d+:\d+\)|\bat \/[^\s)]+:\d+:\d+/],
  ['source path', /\.(?:ts|js|mjs|cjs):\d+|node_modules|file:\/\//],
  ['stack property', /"stack"\s*:/],
  ['SQL', /\bselect\b[^"]{0,200}\bfrom\b|\binsert into\b|\bupdate\b[^"]{0,200}\bset\b|\bdelete from\b/i],
  ['Postgres message', /\bviolates\b|\brelation "|\bsyntax error\b|\binvalid input syntax\b|\bduplicate key value\b|\bSQLSTATE\b|\bknex\b/i],
];

export function leakIn(text: string, echo: string): string | undefined {
  for (const [what, pattern] of LEAK_PATTERNS) {
    const match = pattern.exec(text)?.[0];
    // What the request itself sent may come back in a message ("Invalid value: …"): not a leak.
    if (match !== undefined && !echo.toLowerCase().includes(match.toLowerCase())) return `${what}: ${JSON.stringify(match.slice(0, 120))}`;
  }
  return undefined;
}

/**
 * Per table: the row count and a hash of every row version (ctid and xmin). Any insert, update or delete
 * changes it, a rolled-back write does not, and it reads no column, so large rows cost nothing. Also the
 * next transaction id, to show afterwards which rows a request wrote.
 */
interface Fingerprint {
  nextXid: bigint;
  tables: Map<string, { rows: number; hash: string }>;
}

async function tablesOf(db: TestSystem['db']): Promise<string[]> {
  const result = await db.raw<{ rows: { tablename: string }[] }>(
    `select tablename from pg_tables where schemaname = 'public' and tablename not like 'knex_migrations%' order by tablename`,
  );
  return result.rows.map((r) => r.tablename);
}

function fingerprintSql(tables: string[]): string {
  const perTable = tables.map(
    (t) => `select '${t}' as t, count(*)::int as n, md5(coalesce(string_agg(ctid::text || ':' || xmin::text, ',' order by ctid), '')) as h from "${t}"`,
  );
  return [`select '' as t, 0 as n, pg_snapshot_xmax(pg_current_snapshot())::text as h`, ...perTable].join(' union all ');
}

async function fingerprint(db: TestSystem['db'], sql: string): Promise<Fingerprint> {
  const result = await db.raw<{ rows: { t: string; n: number; h: string }[] }>(sql);
  const [head, ...rows] = result.rows;
  return { nextXid: BigInt(head!.h), tables: new Map(rows.map((r) => [r.t, { rows: r.n, hash: r.h }])) };
}

function changedTables(before: Fingerprint, after: Fingerprint): string[] {
  return [...after.tables.entries()].filter(([t, a]) => before.tables.get(t)?.hash !== a.hash).map(([t]) => t);
}

/** The tables in which `act` inserted, updated or deleted a row: the check behind writesFromRejected, exported so the suite can show it is not blind. */
export async function tablesWrittenBy(db: TestSystem['db'], act: () => Promise<unknown>): Promise<string[]> {
  const sql = fingerprintSql(await tablesOf(db));
  const before = await fingerprint(db, sql);
  await act();
  return changedTables(before, await fingerprint(db, sql));
}

/** The rows a request inserted or updated (by their xmin), a few per table, for the report. */
async function rowsWritten(db: TestSystem['db'], tables: string[], before: Fingerprint, after: Fingerprint): Promise<string> {
  const parts: string[] = [];
  for (const table of tables) {
    const countBefore = before.tables.get(table)?.rows ?? 0;
    const countAfter = after.tables.get(table)?.rows ?? 0;
    const result = await db.raw<{ rows: { row: string }[] }>(
      `select left(to_jsonb(t)::text, 300) as row from "${table}" t where xmin::text::bigint >= ? order by ctid limit 3`,
      [Number(before.nextXid % 2n ** 32n)],
    );
    parts.push(`${table} (rows ${countBefore} → ${countAfter}): ${result.rows.map((r) => r.row).join(' | ') || 'rows deleted'}`);
  }
  return parts.join('; ');
}

// ───────────────────────────── the fixture, live during the run ─────────────────────────────

interface SpareKey {
  id: string;
  key: string;
}

interface FixtureIds {
  workspaceId: string;
  mainQueueId: string;
  reviewQueueId: string;
  annotatorId: string;
  annotatorBId: string;
  spareLabels: string[];
  allLabels: string[];
  spareKeys: SpareKey[];
  sources: { type: string; id: string }[];
  spans: { traceId: string; spanId: string }[];
}

/**
 * The fixture's resources and the arrangements that keep the deep paths reachable: before a submit the
 * annotator holds a reservation on the item, before a review an item awaits review, before a reset an
 * item was skipped by everyone. Arrangements run before the "before" fingerprint, so their writes are
 * never pinned on the fuzzed request.
 */
class Live {
  private reserved: string | undefined;
  private review: string | undefined;
  private skipped: string | undefined;
  /** Items that did not settle once: not waited for again (the stuck scan reports them). */
  private readonly unsettled = new Set<string>();
  readonly problems: string[] = [];

  constructor(
    readonly system: TestSystem,
    readonly ids: FixtureIds,
    private readonly keys: Record<PrincipalName, string | undefined>,
    private spareQueueId: string,
  ) {}

  get db() {
    return this.system.db;
  }

  /** The Authorization header of a plan: its principal's key, or the mutated header with {key} filled in. */
  authorizationOf(plan: Plan): string | undefined {
    const key = this.keys[plan.principal];
    if (plan.authorization !== undefined) return plan.authorization.replaceAll('{key}', key ?? this.keys.admin!);
    return key === undefined ? undefined : `Bearer ${key}`;
  }

  /** A JSON call of the arrangements (as the fuzzer's own requests, with a timeout). */
  async call(who: PrincipalName, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const answer = await send(this.system.url, {
      method,
      path,
      headers: { authorization: `Bearer ${this.keys[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let parsed: unknown = answer.text;
    try {
      parsed = answer.text ? JSON.parse(answer.text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: answer.status, body: parsed };
  }

  private problem(message: string): void {
    if (this.problems.length < MAX_KEPT) this.problems.push(message);
  }

  async resolve(ref: Ref): Promise<string> {
    const values = await this.poolValues(ref.pool);
    return applyTwist(values.length > 0 ? values[ref.pick % values.length]! : NO_SUCH_ID, ref.twist);
  }

  private async poolValues(pool: Pool): Promise<string[]> {
    switch (pool) {
      case 'mainQueue':
        return [this.ids.mainQueueId];
      case 'reviewQueue':
        return [this.ids.reviewQueueId];
      case 'spareQueue':
        return [await this.ensureSpareQueue()];
      case 'reservedItem':
        return [await this.ensureReserved()];
      case 'reviewItem':
        return [await this.ensureReviewItem()];
      case 'skippedItem':
        return [await this.ensureSkipped()];
      case 'pendingItem':
        return [await this.freshPendingItem()];
      case 'anyItem':
        return this.itemIds(this.ids.mainQueueId);
      case 'score':
        return this.scoreIds();
      case 'spareApiKey':
        return this.ids.spareKeys.map((k) => k.id);
      case 'spareLabel':
        return this.ids.spareLabels;
      case 'anyLabel':
        return this.ids.allLabels;
      case 'sourceType':
        return this.ids.sources.map((s) => s.type);
      case 'sourceId':
        return this.ids.sources.map((s) => s.id);
      case 'spanTrace':
        return this.ids.spans.map((s) => s.traceId);
      case 'span':
        return this.ids.spans.map((s) => s.spanId);
    }
  }

  private async itemIds(queueId: string): Promise<string[]> {
    const rows = await this.db<ItemRow>('queue_items').where({ queue_id: queueId }).orderBy(['created_at', 'id']).limit(500).select('id');
    return rows.map((r) => r.id);
  }

  private async scoreIds(): Promise<string[]> {
    const rows = await this.db<ScoreRow>('scores').where({ workspace_id: this.ids.workspaceId }).orderBy(['created_at', 'id']).limit(500).select('id');
    return rows.map((r) => r.id);
  }

  async rowOf(itemId: string): Promise<Pick<ItemRow, 'status' | 'version'> | undefined> {
    return this.db<ItemRow>('queue_items').where({ id: itemId }).first('status', 'version');
  }

  /** Pending items of a queue the annotator has neither skipped nor reserved, oldest first. */
  private async pendingItems(queueId: string): Promise<string[]> {
    const rows = await this.db<ItemRow>('queue_items')
      .where({ queue_id: queueId, status: 'pending' })
      .where('version', '>', 0)
      .whereRaw('not (? = any(skipped_by)) and not (? = any(reserved_by))', [this.ids.annotatorId, this.ids.annotatorId])
      .orderBy(['created_at', 'id'])
      .limit(20)
      .select('id');
    return rows.map((r) => r.id);
  }

  private async freshPendingItem(queueId = this.ids.mainQueueId): Promise<string> {
    const [pending] = await this.pendingItems(queueId);
    if (pending) return pending;
    const [added] = await this.addItems(queueId, 3);
    return added ?? NO_SUCH_ID;
  }

  /** New sources as items of a queue, their workflows started and settled. */
  async addItems(queueId: string, n: number): Promise<string[]> {
    const sources = Array.from({ length: n }, () => ({ type: 'trace', id: `fuzz-trace-${randomUUID()}`, input: 'What is 2 + 2?', output: '4' }));
    const upserted = await this.call('admin', 'POST', '/api/v1/sources', sources);
    const added = await this.call('admin', 'POST', `/api/v1/queues/${queueId}/items`, { items: sources.map((s) => ({ sourceType: s.type, sourceId: s.id })) });
    if (upserted.status !== 200 || added.status !== 200) {
      this.problem(`adding items to ${queueId}: sources ${upserted.status}, items ${added.status} ${JSON.stringify(added.body).slice(0, 200)}`);
      return [];
    }
    const ids = (added.body as { added: { itemId: string }[] }).added.map((a) => a.itemId);
    await this.settle(ids);
    return ids;
  }

  /** An item of the main queue on which the annotator holds a live reservation (reserve is idempotent for its holder). */
  async ensureReserved(): Promise<string> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const itemId = this.reserved ?? (await this.freshPendingItem());
      const reserved = await this.call('annotator', 'POST', `/api/v1/queues/${this.ids.mainQueueId}/items/${itemId}/reserve`);
      if (reserved.status === 200) {
        this.reserved = itemId;
        await this.settle([itemId]);
        return itemId;
      }
      this.reserved = undefined;
      if (reserved.status >= 500) this.problem(`reserve ${itemId}: ${reserved.status} ${JSON.stringify(reserved.body).slice(0, 200)}`);
    }
    this.problem('could not arrange a reserved item');
    return NO_SUCH_ID;
  }

  /** An item of the review queue awaiting review: the annotator reserves and submits a fresh one when needed. */
  async ensureReviewItem(): Promise<string> {
    if (this.review && (await this.rowOf(this.review))?.status === 'pending_review') return this.review;
    for (let attempt = 0; attempt < 3; attempt++) {
      const itemId = await this.freshPendingItem(this.ids.reviewQueueId);
      const base = `/api/v1/queues/${this.ids.reviewQueueId}/items/${itemId}`;
      const reserved = await this.call('annotator', 'POST', `${base}/reserve`);
      const submitted = await this.call('annotator', 'POST', `${base}/submit`, { annotations: [{ label: 'rating', value: 'good' }] });
      await this.settle([itemId]);
      if (await this.waitForStatus(itemId, 'pending_review')) return (this.review = itemId);
      this.problem(`arranging a review item ${itemId}: reserve ${reserved.status}, submit ${submitted.status}`);
    }
    return NO_SUCH_ID;
  }

  /** An item of the main queue that both annotators skipped (what reset reopens). */
  async ensureSkipped(): Promise<string> {
    const current = this.skipped ? await this.rowOf(this.skipped) : undefined;
    if (current?.status === 'skipped') return this.skipped!;
    const itemId = current?.status === 'pending' ? this.skipped! : await this.freshPendingItem();
    const base = `/api/v1/queues/${this.ids.mainQueueId}/items/${itemId}`;
    await this.call('annotator', 'POST', `${base}/skip`);
    await this.call('annotatorB', 'POST', `${base}/skip`);
    await this.settle([itemId]);
    if (await this.waitForStatus(itemId, 'skipped')) return (this.skipped = itemId);
    this.problem(`could not arrange a skipped item (${itemId})`);
    return itemId;
  }

  /** The queue that PATCH, DELETE and status changes act on; a new one when a request deleted it. */
  async ensureSpareQueue(): Promise<string> {
    if (this.spareQueueId && (await this.call('admin', 'GET', `/api/v1/queues/${this.spareQueueId}`)).status === 200) return this.spareQueueId;
    this.spareQueueId = await createSpareQueue(this);
    return this.spareQueueId;
  }

  private async waitForStatus(itemId: string, status: string): Promise<boolean> {
    for (let i = 0; i < 40; i++) {
      if ((await this.rowOf(itemId))?.status === status) return true;
      await sleep(50);
    }
    return false;
  }

  /** The version of the item's workflow state (its 'state' query), or undefined when it does not answer. */
  async workflowVersion(itemId: string): Promise<number | undefined> {
    const { client } = this.system.temporal;
    try {
      const state = await client.withDeadline(Date.now() + TEMPORAL_TIMEOUT_MS, () =>
        client.workflow.getHandle(`item-${itemId}`).query<{ version: number }>('state'),
      );
      return state.version;
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until each item's read model has caught up with its workflow (work a 2xx set off in the
   * background: the first snapshot of a new item, finalization after the last submit, a membership
   * change), so that none of it lands during the next request and is pinned on it.
   */
  async settle(itemIds: string[]): Promise<void> {
    for (const itemId of itemIds) {
      if (this.unsettled.has(itemId)) continue;
      let settled = false;
      for (let attempt = 0; attempt < 60 && !settled; attempt++) {
        const row = await this.rowOf(itemId);
        if (!row || CLOSED_ITEM_STATUSES.has(row.status)) settled = true;
        else settled = row.version > 0 && (await this.workflowVersion(itemId)) === row.version;
        if (!settled) await sleep(50);
      }
      if (!settled) this.unsettled.add(itemId);
    }
  }

  /** After a 2xx on a queue route: settles the items it touched (the path's, the answer's, or all of the queue's). */
  async afterSuccess(op: Operation, wire: Wire, text: string): Promise<void> {
    if (op.method === 'GET' || !op.template.startsWith('/api/v1/queues/{id}')) return;
    const touched = new Set<string>(wire.itemId ? [wire.itemId] : []);
    for (const id of itemIdsIn(text)) touched.add(id);
    const queueWide = op.template === '/api/v1/queues/{id}' || op.template.endsWith('/status');
    if (queueWide && wire.queueId) for (const id of await this.itemIds(wire.queueId)) touched.add(id);
    await this.settle([...touched]);
  }

  async openItem(itemId: string | undefined): Promise<string | undefined> {
    if (!itemId) return undefined;
    const row = await this.rowOf(itemId);
    return row && !CLOSED_ITEM_STATUSES.has(row.status) ? itemId : undefined;
  }
}

/** The columns of queue_items and scores the run reads. */
interface ItemRow {
  id: string;
  queue_id: string;
  status: string;
  version: number;
  created_at: Date;
}

interface ScoreRow {
  id: string;
  workspace_id: string;
  created_at: Date;
}

/** Item ids in an answer: {item: {id}}, {added: [{itemId}]}, {results: [{itemId}]}. */
function itemIdsIn(text: string): string[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [];
  }
  const b = body as { item?: { id?: unknown }; added?: { itemId?: unknown }[]; results?: { itemId?: unknown }[] } | null;
  const ids = [
    b?.item?.id,
    ...(Array.isArray(b?.added) ? b.added.map((a) => a?.itemId) : []),
    ...(Array.isArray(b?.results) ? b.results.map((r) => r?.itemId) : []),
  ];
  return ids.filter((id): id is string => typeof id === 'string');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function expectCreated(what: string, result: { status: number; body: any }, status = 201): any {
  if (result.status !== status) throw new Error(`fuzz fixture: ${what}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

const QUEUE_DEFAULTS = { reservationTimeoutSeconds: 3600, assignmentStrategy: 'manual', annotationsRequired: 1 };

async function createSpareQueue(live: Live): Promise<string> {
  const queue = expectCreated(
    'spare queue',
    await live.call('admin', 'POST', '/api/v1/queues', {
      name: `spare-${randomUUID().slice(0, 6)}`,
      labels: [{ label: 'rating', required: true }],
      members: [live.ids.annotatorId, live.ids.annotatorBId].map((userId) => ({ userId, roles: ['annotator'] })),
      ...QUEUE_DEFAULTS,
    }),
  );
  expectCreated('spare queue status', await live.call('admin', 'POST', `/api/v1/queues/${queue.id}/status`, { status: 'active' }), 200);
  await live.addItems(queue.id as string, 2);
  return queue.id as string;
}

/** Labels the main queue uses beyond the fixture's rating and score, one of each type, with the values they accept. */
const EXTRA_QUEUE_LABELS: { key: string; type: string; settings: object; valid: fc.Arbitrary<Tree> }[] = [
  { key: 'note', type: 'text', settings: { maxLength: 500 }, valid: fc.string({ maxLength: 40 }) },
  {
    key: 'tags',
    type: 'categorical',
    settings: { options: ['a', 'b', 'c'], multiChoice: true },
    valid: fc.shuffledSubarray(['a', 'b', 'c'], { minLength: 1 }),
  },
  { key: 'stars', type: 'star', settings: { stars: 5 }, valid: fc.integer({ min: 1, max: 5 }) },
  { key: 'thumb', type: 'thumbs', settings: {}, valid: fc.boolean() },
];
const SPARE_LABELS = [
  { key: 'spare-cat', type: 'categorical', settings: { options: ['x', 'y'] } },
  { key: 'spare-num', type: 'numeric', settings: {} },
  { key: 'spare-text', type: 'text', settings: {} },
  { key: 'spare-star', type: 'star', settings: {} },
  { key: 'spare-thumb', type: 'thumbs', settings: {} },
];

/**
 * The fixture: the queue fixture's workspace (admin, annotators A and B, reviewer R, labels rating and
 * score) with more labels on its main queue, a review queue, a spare queue, spare labels and keys, spans
 * for the v2 routes, loose sources, a few scores, an outsider and another workspace. Manual strategy and
 * one-hour leases: no timer writes in the background while the run checks for writes.
 */
async function setUpFixture(system: TestSystem): Promise<{ live: Live; statics: Statics }> {
  const q = await createQueueFixture(system, { annotators: 2, reviewers: 1, items: 0, reservationTimeoutSeconds: 3600, assignmentStrategy: 'manual' });
  // The fixture keeps its admin key to itself: a service key with the admin role acts for it.
  const adminKey = expectCreated('admin key', await q.admin.post('/api/v1/api-keys', { name: 'fuzz admin', role: 'admin' }));
  const [a, b] = q.annotators;
  const reviewer = q.reviewers[0]!;
  const outsider = await createPerson(system, q.admin, 'outsider');
  const foreign = await createWorkspaceFixture(system);
  const keys: Record<PrincipalName, string | undefined> = {
    owner: system.ownerKey,
    admin: adminKey.key as string,
    annotator: a!.key,
    annotatorB: b!.key,
    reviewer: reviewer.key,
    outsider: outsider.key,
    foreignAdmin: foreign.adminKey,
    spareKey: undefined,
    anonymous: undefined,
  };
  const ids: FixtureIds = {
    workspaceId: q.workspaceId,
    mainQueueId: q.queueId,
    reviewQueueId: '',
    annotatorId: a!.id,
    annotatorBId: b!.id,
    spareLabels: [],
    allLabels: [],
    spareKeys: [],
    sources: [],
    spans: [],
  };
  const live = new Live(system, ids, keys, '');

  const labels = await setUpLabels(live, q.queueId);
  ids.spareLabels = labels.spare;
  ids.allLabels = [...labels.queue.flatMap((l) => [l.key, l.id]), ...labels.spare];
  ids.spareKeys = await Promise.all(
    [1, 2, 3].map(async (i) => {
      const created = expectCreated('spare key', await live.call('admin', 'POST', '/api/v1/api-keys', { name: `spare ${i}`, role: 'member' }));
      return { id: created.id as string, key: created.key as string };
    }),
  );
  // A revocable key: once a fuzzed DELETE revokes it, requests made with it must get a clean 401.
  keys.spareKey = ids.spareKeys[0]!.key;
  ids.spans = [0, 1, 2].map((i) => ({ traceId: `fuzz-trace-${i}`, spanId: `fuzz-span-${i}` }));
  const loose = SOURCE_TYPES.flatMap((type) => [0, 1].map((i) => ({ type, id: `fuzz-${type}-${i}` })));
  expectCreated(
    'sources',
    await live.call('admin', 'POST', '/api/v1/sources', [
      ...ids.spans.map((s) => ({ type: 'observation_span', id: s.spanId, traceId: s.traceId, output: 'Paris.' })),
      ...loose.map((s) => ({ ...s, input: 'in', output: 'out' })),
    ]),
    200,
  );
  await live.addItems(q.queueId, 6);
  ids.reviewQueueId = await createReviewQueue(live, reviewer.id);
  await live.ensureSpareQueue();
  await setUpScores(live, loose[0]!, ids.spans[0]!);
  const itemSources = await system
    .db<{ type: string; external_id: string; id: string }>('sources')
    .whereIn('id', system.db('queue_items').where({ workspace_id: q.workspaceId }).select('source_id'))
    .orderBy('external_id')
    .limit(10)
    .select('type', 'external_id');
  ids.sources = [
    ...ids.spans.map((s) => ({ type: 'observation_span', id: s.spanId })),
    ...loose,
    ...itemSources.map((s) => ({ type: s.type, id: s.external_id })),
  ];

  const foreignIds = await setUpForeign(live, foreign.adminKey);
  const statics: Statics = {
    queueLabels: labels.queue,
    labelKeys: [...labels.queue.map((l) => l.key), ...SPARE_LABELS.map((l) => l.key)],
    userIds: [a!.id, b!.id, reviewer.id, outsider.id],
    sources: ids.sources,
    traceIds: ids.spans.map((s) => s.traceId),
    mainQueueId: q.queueId,
    foreignIds,
  };
  return { live, statics };
}

async function setUpLabels(live: Live, mainQueueId: string) {
  for (const l of [...EXTRA_QUEUE_LABELS, ...SPARE_LABELS]) {
    expectCreated(`label ${l.key}`, await live.call('admin', 'POST', '/api/v1/labels', { key: l.key, name: l.key, type: l.type, settings: l.settings }));
  }
  const queueLabels = [
    { label: 'rating', required: true },
    { label: 'score', required: false },
    ...EXTRA_QUEUE_LABELS.map((l) => ({ label: l.key, required: false })),
  ];
  // Items keep the labels their queue had when they were added: the main queue gets all of them before its items.
  expectCreated('queue labels', await live.call('admin', 'PATCH', `/api/v1/queues/${mainQueueId}`, { labels: queueLabels }), 200);
  const listed = await live.call('admin', 'GET', '/api/v1/labels?limit=500');
  const byKey = new Map((listed.body.data as { key: string; id: string }[]).map((l) => [l.key, l.id]));
  const validOf: Record<string, fc.Arbitrary<Tree>> = {
    rating: fc.constantFrom('good', 'bad'),
    score: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.double({ min: 0, max: 10, noNaN: true })),
    ...Object.fromEntries(EXTRA_QUEUE_LABELS.map((l) => [l.key, l.valid])),
  };
  return {
    queue: queueLabels.map((l) => ({ key: l.label, id: byKey.get(l.label)!, valid: validOf[l.label]! })),
    spare: SPARE_LABELS.flatMap((l) => [l.key, byKey.get(l.key)!]),
  };
}

async function createReviewQueue(live: Live, reviewerId: string): Promise<string> {
  const queue = expectCreated(
    'review queue',
    await live.call('admin', 'POST', '/api/v1/queues', {
      name: `review-${randomUUID().slice(0, 6)}`,
      labels: [
        { label: 'rating', required: true },
        { label: 'note', required: false },
      ],
      members: [
        ...[live.ids.annotatorId, live.ids.annotatorBId].map((userId) => ({ userId, roles: ['annotator'] })),
        { userId: reviewerId, roles: ['reviewer'] },
      ],
      requiresReview: true,
      ...QUEUE_DEFAULTS,
    }),
  );
  expectCreated('review queue status', await live.call('admin', 'POST', `/api/v1/queues/${queue.id}/status`, { status: 'active' }), 200);
  await live.addItems(queue.id as string, 2);
  return queue.id as string;
}

/** Scores outside any queue (DELETE may remove them), and one through the v2 route on a span. */
async function setUpScores(live: Live, source: { type: string; id: string }, span: { traceId: string; spanId: string }): Promise<void> {
  const values: [string, Tree][] = [
    ['rating', 'good'],
    ['score', 7],
    ['thumb', true],
  ];
  for (const [label, value] of values) {
    expectCreated(`score ${label}`, await live.call('admin', 'POST', '/api/v1/scores', { sourceType: source.type, sourceId: source.id, label, value }));
  }
  const v2 = await live.call('admin', 'POST', `/v2/traces/${span.traceId}/spans/${span.spanId}/annotation`, { annotations: [{ key: 'rating', value: 'bad' }] });
  expectCreated('v2 annotation', v2, 200);
}

/** Ids of another workspace: every route must answer them 404, as if they did not exist. */
async function setUpForeign(live: Live, foreignKey: string): Promise<string[]> {
  const as = (method: string, path: string, body?: unknown) =>
    send(live.system.url, {
      method,
      path,
      headers: { authorization: `Bearer ${foreignKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((a) => (a.status < 300 && a.text ? (JSON.parse(a.text) as { id?: string }) : {}));
  const label = await as('POST', '/api/v1/labels', { key: 'rating', name: 'Rating', type: 'thumbs' });
  const queue = await as('POST', '/api/v1/queues', { name: 'foreign' });
  // The same span id as the main workspace's: the v2 routes must find the caller's own.
  await as('POST', '/api/v1/sources', [{ type: 'observation_span', id: 'fuzz-span-0', traceId: 'fuzz-trace-0' }]);
  return [label.id, queue.id].filter((id): id is string => typeof id === 'string');
}

// ───────────────────────────── the run ─────────────────────────────

class Recorder {
  readonly report: FuzzReport;

  constructor(seed: number) {
    this.report = {
      seed,
      requests: 0,
      durationMs: 0,
      byStatusClass: emptyCounts(),
      byStatus: {},
      byOperation: {},
      byMutation: {},
      serverErrors: [],
      writesFromRejected: [],
      acceptedByWorkflow: [],
      envelopeViolations: [],
      leaks: [],
      stuckItems: [],
      responseDrifts: [],
      patterns: [],
      dropped: {},
      arrangementProblems: [],
    };
  }

  count(operation: string, mutations: string[], status: number): void {
    const cls = statusClass(status);
    const r = this.report;
    r.requests++;
    r.byStatusClass[cls]++;
    r.byStatus[String(status)] = (r.byStatus[String(status)] ?? 0) + 1;
    (r.byOperation[operation] ??= emptyCounts())[cls]++;
    const kinds = mutationKinds(mutations);
    for (const kind of kinds.length > 0 ? kinds : ['none']) (r.byMutation[kind] ??= emptyCounts())[cls]++;
  }

  add(list: FindingList, finding: Finding): void {
    if (this.report[list].length < MAX_KEPT) this.report[list].push(finding);
    else this.report.dropped[list] = (this.report.dropped[list] ?? 0) + 1;
    this.pattern(list, finding);
  }

  private readonly patternsBySignature = new Map<string, FailurePattern>();

  /** Groups findings by cause (the server's logged error for a 5xx, else the problem), keeping the smallest request as the example. */
  private pattern(list: FindingList, finding: Finding): void {
    const cause = normalize(list === 'serverErrors' && finding.serverLog?.length ? errorOfLog(finding.serverLog) : finding.problem);
    const signature = `${list} ${finding.status} ${cause}`;
    let pattern = this.patternsBySignature.get(signature);
    if (!pattern) {
      pattern = { list, status: finding.status, cause, count: 0, operations: [], mutations: [], example: finding };
      this.patternsBySignature.set(signature, pattern);
      this.report.patterns.push(pattern);
    }
    pattern.count++;
    if (sizeOf(finding) < sizeOf(pattern.example)) pattern.example = finding;
    if (!pattern.operations.includes(finding.operation)) pattern.operations.push(finding.operation);
    for (const kind of mutationKinds(finding.mutations)) if (!pattern.mutations.includes(kind)) pattern.mutations.push(kind);
  }
}

const emptyCounts = (): StatusCounts => ({ '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, none: 0 });
const statusClass = (status: number): StatusClass => (status === 0 ? 'none' : status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : '2xx');
const sizeOf = (f: Finding) => (f.request.bodyBytes ?? 0) + f.request.path.length + f.mutations.length * 100;
const truncate = (text: string, max = 600) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** The first line of a logged error that says what went wrong (the API's "[api] POST … failed:" line says only where). */
const mutationKinds = (mutations: string[]) => [...new Set(mutations.map((m) => m.split(/[ :]/)[0]!))];

/** What a logged error says went wrong: the API's "[api] POST … failed: <error>" line names only where, the error follows it. */
function errorOfLog(log: string[]): string {
  const lines = log.join('\n').split('\n');
  const head = /^\[api\] \S+ \S+ failed:\s*(.*)$/.exec(lines[0] ?? '');
  if (!head) return lines[0] ?? '';
  return head[1] || lines.slice(1).find((l) => l.trim() && !/^\s+at /.test(l)) || '(the log line names no error)';
}

/** One cause, whatever the ids, numbers and quoted input of each occurrence. */
function normalize(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/'[^']*'|"[^"]*"/g, '"…"')
    .replace(/\d+/g, '<n>')
    .slice(0, 200);
}

/** Runs `fn` with the API's console.error captured, so a 5xx's stack lands in its finding instead of the test output. */
async function withServerLog<T>(fn: () => Promise<T>): Promise<{ value: T; log: string[] }> {
  const log: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void log.push(format(...args));
  try {
    return { value: await fn(), log };
  } finally {
    console.error = original;
  }
}

interface RunContext {
  live: Live;
  rec: Recorder;
  ops: Operation[];
  tables: string[];
  fingerprintSql: string;
  options: FuzzOptions;
}

async function runOne(ctx: RunContext, index: number, plan: Plan): Promise<void> {
  const { live, rec, options } = ctx;
  const op = ctx.ops[plan.op]!;
  const wire = await materialize(plan, op, live);
  const watched = await live.openItem(wire.itemId);
  const versionBefore = watched ? await live.workflowVersion(watched) : undefined;
  const before = await fingerprint(live.db, ctx.fingerprintSql);
  const { value: answer, log } = await withServerLog(() => send(live.system.url, wire));
  const after = await fingerprint(live.db, ctx.fingerprintSql);

  rec.count(op.name, plan.mutations, answer.status);
  const finding = (problem: string): Finding => ({
    index,
    operation: op.name,
    mutations: plan.mutations,
    request: wire.shown,
    status: answer.status,
    response: truncate(answer.error ?? answer.text),
    problem,
    ...(log.length > 0 && { serverLog: log.slice(0, 3).map((l) => truncate(l, 1_500)) }),
  });
  options.onRequest?.(finding(''));
  let reported = false;
  const add = (list: FindingList, problem: string) => {
    rec.add(list, finding(problem));
    reported = true;
  };

  if (answer.status === 0) add('serverErrors', `no answer: ${answer.error}`);
  else if (answer.status >= 500) add('serverErrors', `answered ${answer.status}`);
  if (answer.status >= 400 && answer.status < 500) {
    const envelope = envelopeProblem(answer.status, answer.contentType, answer.text);
    if (envelope) add('envelopeViolations', envelope);
  }
  if (answer.status >= 400) {
    const leak = leakIn(answer.text, wire.echo);
    if (leak) add('leaks', leak);
    const changed = changedTables(before, after);
    if (changed.length > 0) add('writesFromRejected', `wrote ${await rowsWritten(live.db, changed, before, after)}`);
    if (watched && versionBefore !== undefined) {
      const versionAfter = await live.workflowVersion(watched);
      if (versionAfter !== undefined && versionAfter > versionBefore)
        add('acceptedByWorkflow', `item ${watched}: workflow state went from version ${versionBefore} to ${versionAfter}`);
    }
  }
  // Logs of a request without a finding are not the report's: pass them on rather than hide them.
  if (!reported) for (const line of log) console.error(line);
  if (answer.status >= 200 && answer.status < 300) await live.afterSuccess(op, wire, answer.text);
}

/**
 * Every item's read model caught up with its workflow, and no activity failing: an item whose workflow
 * accepted a value Postgres then refused would retry its write for ever (and refuse every later request).
 */
async function findStuckItems(live: Live): Promise<StuckItem[]> {
  await sleep(2_000);
  const rows = await live.db<ItemRow>('queue_items').orderBy(['created_at', 'id']).select('id', 'queue_id', 'status', 'version');
  const inspect = async (row: Pick<ItemRow, 'id' | 'queue_id' | 'status' | 'version'>) => {
    const problem = await stuckProblem(live, row);
    return problem ? { itemId: row.id, queueId: row.queue_id, rowStatus: row.status, rowVersion: row.version, problem } : undefined;
  };
  let stuck = (await mapLimit(rows, 8, inspect)).filter((s) => s !== undefined);
  // A read model a moment behind is catching up, not stuck: look again once before reporting.
  if (stuck.length > 0) {
    await sleep(3_000);
    const again = new Set(stuck.map((s) => s.itemId));
    const fresh = await live
      .db<ItemRow>('queue_items')
      .whereIn('id', [...again])
      .select('id', 'queue_id', 'status', 'version');
    stuck = (await mapLimit(fresh, 8, inspect)).filter((s) => s !== undefined);
  }
  return stuck;
}

async function stuckProblem(live: Live, row: { id: string; status: string; version: number }): Promise<string | undefined> {
  const { client } = live.system.temporal;
  const handle = client.workflow.getHandle(`item-${row.id}`);
  let description;
  try {
    description = await client.withDeadline(Date.now() + TEMPORAL_TIMEOUT_MS, () => handle.describe());
  } catch (error) {
    if (CLOSED_ITEM_STATUSES.has(row.status)) return undefined;
    return row.version === 0 ? 'no workflow: the row is at version 0 (its workflow never started)' : `workflow not found: ${(error as Error).message}`;
  }
  const failing = (description.raw.pendingActivities ?? []).filter((a) => (a.attempt ?? 0) > 1);
  if (failing.length > 0) {
    return failing.map((a) => `activity ${a.activityType?.name} failing (attempt ${a.attempt}): ${a.lastFailure?.message ?? '?'}`).join('; ');
  }
  const status = description.status.name;
  if (status !== 'RUNNING') {
    return status === 'COMPLETED' && CLOSED_ITEM_STATUSES.has(row.status) ? undefined : `workflow ${status}, row says ${row.status}`;
  }
  const version = await live.workflowVersion(row.id);
  if (version === undefined) return 'workflow does not answer its state query';
  return version === row.version ? undefined : `read model behind its workflow: workflow at version ${version}, row at ${row.version}`;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i]!);
      }
    }),
  );
  return results;
}

export interface FuzzOptions {
  system: TestSystem;
  /** How many fuzzed requests to send (the fixture's own setup requests are not counted). */
  requests: number;
  seed: number;
  /** Called after each request with what was sent and answered (a verbose log, or a debugger's breakpoint). */
  onRequest?: (entry: Omit<Finding, 'problem'>) => void;
  /** Called every `progressEvery` requests, for a long run's progress line. */
  onProgress?: (done: number, report: FuzzReport) => void;
  progressEvery?: number;
}

/** Sets up the fixture, sends `requests` generated requests one at a time, then looks for stuck items. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = Date.now();
  const { system } = options;
  const doc = (await (await fetch(`${system.url}/api/v1/openapi.json`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).json()) as OpenApiDocument;
  const ops = operationsOf(doc);
  const { live, statics } = await setUpFixture(system);
  const plans = generatePlans(ops, generatorOf(statics), options.requests, options.seed);
  const tables = await tablesOf(system.db);
  const ctx: RunContext = { live, rec: new Recorder(options.seed), ops, tables, fingerprintSql: fingerprintSql(tables), options };
  const every = options.progressEvery ?? 500;
  for (const [index, plan] of plans.entries()) {
    await runOne(ctx, index, plan);
    if ((index + 1) % every === 0) options.onProgress?.(index + 1, ctx.rec.report);
  }
  const report = ctx.rec.report;
  report.stuckItems = await findStuckItems(live);
  report.responseDrifts = system.responseDrifts();
  report.arrangementProblems = live.problems;
  report.patterns.sort((a, b) => b.count - a.count);
  report.durationMs = Date.now() - started;
  return report;
}
