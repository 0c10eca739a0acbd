import { Connection } from '@temporalio/client';
import { loadConfigOrExit, REQUIRED_BY_PROCESS } from './config.js';
import { createDb } from './db.js';
import { prepareBackends } from './bootstrap.js';
import { createPrincipalsRepo } from './repositories/principals.repo.js';

/** `npm run migrate`: the one-shot job of a production deployment. */
const config = loadConfigOrExit(REQUIRED_BY_PROCESS.migrate);
const db = createDb(config.DATABASE_URL!, { max: 2 });
const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS!, connectTimeout: '30s' });
try {
  await prepareBackends(db, connection, config.TEMPORAL_NAMESPACE);
  if (config.QUORUM_ADMIN_KEY) await createPrincipalsRepo(db).ensureOwner(config.QUORUM_ADMIN_KEY);
  console.log('Migrations applied; search attributes registered.');
} finally {
  await connection.close();
  await db.destroy();
}
