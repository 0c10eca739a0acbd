import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema, REQUIRED_BY_PROCESS, type ProcessName } from '../../infra/config.js';

/** No Docker engine runs here: the compose file is checked against the config schema instead. */
const compose = parse(fs.readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true });
const services: Record<string, any> = compose.services;

function envOf(service: string): Record<string, string> {
  const env = services[service].environment ?? {};
  // Compose interpolation: ${NAME:?message} is required from the caller's environment.
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{[^}]+\}/g, 'interpolated-secret-value')]));
}

describe('docker-compose.yml', () => {
  const processes = Object.keys(REQUIRED_BY_PROCESS) as ProcessName[];

  it.each(processes)('gives the %s service every variable the code requires, and valid values', (name) => {
    expect(services[name], `service ${name}`).toBeDefined();
    expect(services[name].command).toEqual(['npm', 'run', name]);
    const env = envOf(name);
    for (const variable of REQUIRED_BY_PROCESS[name]) expect(env[variable], `${name}.${variable}`).toBeTruthy();
    const parsed = configSchema.safeParse(env);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
  });

  it('points every DATABASE_URL at the postgres service, with its user, password and database', () => {
    const pg = envOf('postgres');
    for (const name of processes) {
      const url = new URL(envOf(name).DATABASE_URL!);
      expect(url.hostname).toBe('postgres');
      expect(url.port).toBe('5432');
      expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
      expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
      expect(url.pathname.slice(1)).toBe(pg.POSTGRES_DB);
    }
    expect(envOf('temporal').POSTGRES_SEEDS).toBe('postgres');
    expect(envOf('temporal').POSTGRES_USER).toBe(pg.POSTGRES_USER);
    expect(envOf('temporal').POSTGRES_PWD).toBe(pg.POSTGRES_PASSWORD);
  });

  it('points every TEMPORAL_ADDRESS at the temporal service frontend port', () => {
    for (const name of [...processes, 'temporal-ui']) expect(envOf(name).TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(services.temporal.healthcheck.test.join(' ')).toContain('7233');
  });

  it('publishes the API on the port it listens on, on all interfaces inside the container', () => {
    const env = envOf('api');
    expect(env.HOST).toBe('0.0.0.0');
    const [, container] = String(services.api.ports[0]).split(':');
    expect(container).toBe(env.PORT);
    expect(services.api.healthcheck.test.join(' ')).toContain(`127.0.0.1:${env.PORT}/readyz`);
  });

  it('orders startup: schema before Temporal, migrations before API and worker', () => {
    expect(services['temporal-schema'].depends_on.postgres.condition).toBe('service_healthy');
    expect(services.temporal.depends_on['temporal-schema'].condition).toBe('service_completed_successfully');
    expect(services.migrate.depends_on.postgres.condition).toBe('service_healthy');
    expect(services.migrate.depends_on.temporal.condition).toBe('service_healthy');
    expect(services.api.depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(services.worker.depends_on.migrate.condition).toBe('service_completed_successfully');
    for (const name of ['postgres', 'temporal', 'api']) expect(services[name].healthcheck, name).toBeDefined();
  });

  it('builds the Quorum services from the Dockerfile, which copies every folder the processes import', () => {
    const dockerfile = fs.readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    for (const dir of ['domain', 'workflows', 'activities', 'infra', 'api', 'worker']) expect(dockerfile).toContain(`COPY ${dir} ./${dir}`);
    for (const name of processes) expect(services[name].build).toBe('.');
  });
});
