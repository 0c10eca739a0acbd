import type { Db } from '../infra/db.js';

export function createSystemActivities(db: Db) {
  return {
    /** Round trip workflow → activity → Postgres: proves a worker can reach the database. */
    async databaseTime(): Promise<string> {
      const { rows } = await db.raw('select now() as now');
      return new Date(rows[0].now).toISOString();
    },
  };
}
