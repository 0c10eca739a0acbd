import { healthResponse, readyResponse } from '../../domain/api.js';
import { DomainError } from '../../domain/errors.js';
import { temporalReachable } from '../../infra/temporal.js';
import type { AppDeps } from '../../app/deps.js';
import { endpoint } from '../endpoint.js';

export function healthEndpoints({ db, temporal }: AppDeps) {
  return [
    endpoint({
      method: 'get',
      path: '/healthz',
      tag: 'health',
      summary: 'The process is up',
      authenticated: false,
      status: 200,
      response: healthResponse,
      handler: () => Promise.resolve({ status: 'ok' }),
    }),
    endpoint({
      method: 'get',
      path: '/readyz',
      tag: 'health',
      summary: 'Postgres and Temporal are reachable (503 names which is not)',
      authenticated: false,
      status: 200,
      response: readyResponse,
      handler: async () => {
        const [postgres, temporalOk] = await Promise.all([
          db.raw('select 1').then(
            () => true,
            () => false,
          ),
          temporalReachable(temporal.connection),
        ]);
        if (!postgres || !temporalOk) {
          const down = [!postgres && 'Postgres', !temporalOk && 'Temporal'].filter(Boolean).join(' and ');
          throw new DomainError('UNAVAILABLE', `Not ready: ${down} unreachable.`, {
            postgres: postgres ? 'ok' : 'down',
            temporal: temporalOk ? 'ok' : 'down',
          });
        }
        return { status: 'ok', postgres: 'ok', temporal: 'ok' };
      },
    }),
  ];
}
