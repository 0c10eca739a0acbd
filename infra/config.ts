import path from 'node:path';
import { z } from 'zod';

/**
 * Configuration, parsed once at boot from the environment. Each variable has a default for the
 * laptop path (`npm start`); the production processes (`npm run api`, `npm run worker`) require
 * DATABASE_URL and TEMPORAL_ADDRESS. A missing or bad variable stops the process with a list.
 */
const port = z.coerce.number().int().min(1).max(65535);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

export const configSchema = z.object({
  QUORUM_DATA_DIR: z.string().default('./.quorum'),
  HOST: z.string().default('127.0.0.1'),
  PORT: port.default(3000),
  QUORUM_PG_PORT: port.default(54329),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  DATABASE_URL: optionalString.pipe(z.url({ message: 'DATABASE_URL must be a postgres:// URL' }).optional()),
  TEMPORAL_ADDRESS: optionalString,
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('quorum'),
  TEMPORAL_CLI_PATH: optionalString,
  QUORUM_ADMIN_KEY: optionalString.pipe(z.string().min(16, 'QUORUM_ADMIN_KEY must be at least 16 characters').optional()),
});

export type Config = z.output<typeof configSchema> & { dataDir: string };

/** The variables each production process cannot run without (checked against docker-compose.yml in tests). */
export const REQUIRED_BY_PROCESS = {
  api: ['DATABASE_URL', 'TEMPORAL_ADDRESS'],
  worker: ['DATABASE_URL', 'TEMPORAL_ADDRESS'],
  migrate: ['DATABASE_URL', 'TEMPORAL_ADDRESS'],
} as const;
export type ProcessName = keyof typeof REQUIRED_BY_PROCESS;

export class ConfigError extends Error {}

export function parseConfig(env: NodeJS.ProcessEnv = process.env, requires: readonly (keyof Config)[] = []): Config {
  const result = configSchema.safeParse(env);
  const problems = result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (result.success) {
    for (const name of requires) if (result.data[name as keyof typeof result.data] === undefined) problems.push(`${name}: required`);
  }
  if (!result.success || problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return { ...result.data, dataDir: path.resolve(result.data.QUORUM_DATA_DIR) };
}

/** For process entry points: print the list and exit instead of a stack. */
export function loadConfigOrExit(requires: readonly (keyof Config)[] = []): Config {
  try {
    return parseConfig(process.env, requires);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
