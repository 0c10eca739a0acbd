import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

// Parse bigint counts and numerics as JS numbers; our counts stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number.parseInt(v, 10));
pg.types.setTypeParser(pg.types.builtins.NUMERIC, (v) => Number.parseFloat(v));

export type Db = Knex;

export function createDb(databaseUrl: string, pool: { min?: number; max?: number } = {}): Db {
  return knexFactory({
    client: 'pg',
    connection: { connectionString: databaseUrl, connectionTimeoutMillis: 5_000 },
    pool: { min: pool.min ?? 0, max: pool.max ?? 20 },
    acquireConnectionTimeout: 10_000,
  });
}

/** Postgres error codes that mean "the database is not reachable", not "your query is wrong". */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P03', '53300']);

export function isDbUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  return (
    error.name === 'KnexTimeoutError' ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect|Unable to acquire a connection/i.test(error.message)
  );
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: unknown; constraint?: unknown };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

/**
 * Postgres errors that a request's content can cause, by SQLSTATE class: the caller's input, not a bug.
 * Class 22 (data exception: bad text, NUL, out of range, bad date…), 23 (integrity: a value that breaks a
 * constraint), 54 (a value too large for an index or nested too deep). Everything else is a 5xx.
 */
export type InputRejection = 'invalid_value' | 'duplicate' | 'constraint' | 'too_large';

export function inputRejectionOf(error: unknown): InputRejection | undefined {
  if (!(error instanceof pg.DatabaseError) || typeof error.code !== 'string') return undefined;
  if (error.code === '23505') return 'duplicate';
  if (error.code.startsWith('22')) return 'invalid_value';
  if (error.code.startsWith('23')) return 'constraint';
  if (error.code.startsWith('54')) return 'too_large';
  return undefined;
}

/** Creates a database if it is missing (for the embedded path and tests). */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = createDb(adminUrl, { max: 1 });
  try {
    const { rows } = await admin.raw<{ rows: unknown[] }>('select 1 from pg_database where datname = ?', [name]);
    if (rows.length === 0) await admin.raw('create database ??', [name]);
  } finally {
    await admin.destroy();
  }
}
