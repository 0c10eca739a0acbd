// The fuzz suite inside `npm test`: ≈1,000 requests generated from the OpenAPI document with a fixed
// seed (test/fuzz/fuzz-engine.ts), against a whole system. `npm run fuzz` runs ≥ 10,000 of them.
// A failure prints the requests that caused it, ready to send again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../helpers/system.js';
import {
  describeFindings,
  describeStuckItems,
  envelopeProblem,
  leakIn,
  runFuzz,
  tablesWrittenBy,
  type FuzzReport,
  type OpenApiDocument,
} from './fuzz-engine.js';

const REQUESTS = 1_000;
const SEED = 1_337;

describe('fuzzing the API with generated bad input (seeded)', () => {
  let system: TestSystem;
  let report: FuzzReport;

  beforeAll(async () => {
    system = await startTestSystem();
    report = await runFuzz({ system, requests: REQUESTS, seed: SEED });
  }, 170_000);
  afterAll(async () => system?.close());

  it('sends every request, and covers every operation of the OpenAPI document', async () => {
    const doc = (await (await fetch(`${system.url}/api/v1/openapi.json`)).json()) as OpenApiDocument;
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(report.requests).toBe(REQUESTS);
    expect(Object.keys(report.byOperation).sort()).toEqual(operations.sort());
  });

  it('answers every request, and none with a status ≥ 500', () => {
    expect(report.serverErrors.length + (report.dropped.serverErrors ?? 0), describeFindings(report.serverErrors)).toBe(0);
  });

  it('writes no row for a request it rejects', () => {
    expect(report.writesFromRejected.length + (report.dropped.writesFromRejected ?? 0), describeFindings(report.writesFromRejected)).toBe(0);
  });

  it("never lets an item's workflow accept what the API refused", () => {
    expect(report.acceptedByWorkflow.length + (report.dropped.acceptedByWorkflow ?? 0), describeFindings(report.acceptedByWorkflow)).toBe(0);
  });

  it('leaves no item stuck: every read model caught up with its workflow, no activity failing', () => {
    expect(report.stuckItems.length, describeStuckItems(report.stuckItems)).toBe(0);
  });

  it('answers every 4xx in the error envelope, with the code of its status', () => {
    expect(report.envelopeViolations.length + (report.dropped.envelopeViolations ?? 0), describeFindings(report.envelopeViolations)).toBe(0);
  });

  it('shows no stack frame, source path or SQL in any error body', () => {
    expect(report.leaks.length + (report.dropped.leaks ?? 0), describeFindings(report.leaks)).toBe(0);
  });

  it('answers within the response schemas', () => {
    expect(report.responseDrifts).toEqual([]);
  });

  // The checks themselves: a blind check would pass every run.
  it('sees a committed write, and not a rolled-back one', async () => {
    const owner = system.as(system.ownerKey);
    expect(await tablesWrittenBy(system.db, () => owner.post('/api/v1/labels', { key: `self-check-${SEED}`, name: 'Self check', type: 'thumbs' }))).toEqual([
      'labels',
    ]);
    const rolledBack = () =>
      system.db.transaction((trx) =>
        trx('labels')
          .update({ name: 'renamed' })
          .then(() => Promise.reject(new Error('roll back'))),
      );
    expect(await tablesWrittenBy(system.db, () => rolledBack().catch(() => undefined))).toEqual([]);
  });
});

describe('the fuzz checks', () => {
  it('accept exactly the error envelope, with a code of its status', () => {
    const json = 'application/json; charset=utf-8';
    expect(envelopeProblem(400, json, '{"error":{"code":"VALIDATION","message":"name: too long"}}')).toBeUndefined();
    expect(envelopeProblem(409, json, '{"error":{"code":"INVALID_TRANSITION","message":"no","details":{"allowed":[]}}}')).toBeUndefined();
    expect(envelopeProblem(400, 'text/html', '<pre>SyntaxError</pre>')).toMatch(/Content-Type/);
    expect(envelopeProblem(400, json, '{"error":{"code":"VALIDATION","message":"x"},"stack":"…"}')).toMatch(/top-level keys/);
    expect(envelopeProblem(400, json, '{"error":{"code":"VALIDATION","message":"x","status":400}}')).toMatch(/unexpected keys/);
    expect(envelopeProblem(400, json, '{"error":{"code":"NOT_FOUND","message":"x"}}')).toMatch(/does not go with status 400/);
    expect(envelopeProblem(415, json, '{"error":{"code":"VALIDATION","message":"x"}}')).toMatch(/not one of/);
  });

  it('find stack frames and driver text, but not what the request itself sent', () => {
    expect(leakIn('{"error":{"message":"x\\n    at parse (/app/api/endpoint.ts:12:5)"}}', '')).toMatch(/stack frame|source path/);
    expect(leakIn('{"error":{"message":"insert into \\"scores\\" (id) values ($1)"}}', '')).toMatch(/SQL/);
    expect(leakIn('{"error":{"message":"duplicate key value violates unique constraint"}}', '')).toMatch(/Postgres/);
    expect(leakIn('{"error":{"message":"Value must select at least one option."}}', '')).toBeUndefined();
    expect(leakIn('{"error":{"message":"Invalid value: select 1 from x"}}', '{"value":"select 1 from x"}')).toBeUndefined();
  });
});
