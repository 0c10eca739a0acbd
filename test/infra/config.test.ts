import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, REQUIRED_BY_PROCESS } from '../../infra/config.js';
import { assertPortFree } from '../../infra/ports.js';
import { findOrInstallTemporalCli } from '../../infra/temporal-cli.js';

describe('configuration', () => {
  it('fills every default for the laptop path', () => {
    const config = parseConfig({});
    expect(config).toMatchObject({ PORT: 3000, TEMPORAL_PORT: 7233, TEMPORAL_UI_PORT: 8233, TEMPORAL_NAMESPACE: 'default', QUORUM_DATA_DIR: './.quorum' });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.dataDir).toBe(path.resolve('.quorum'));
  });

  it('lists every bad or missing variable at once', () => {
    expect(() => parseConfig({ PORT: 'abc', TEMPORAL_PORT: '70000' }, REQUIRED_BY_PROCESS.api)).toThrow(ConfigError);
    try {
      parseConfig({ PORT: 'abc', QUORUM_ADMIN_KEY: 'short' }, REQUIRED_BY_PROCESS.api);
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT');
      expect(message).toContain('QUORUM_ADMIN_KEY: QUORUM_ADMIN_KEY must be at least 16 characters');
    }
    expect(() => parseConfig({}, REQUIRED_BY_PROCESS.worker)).toThrow(/DATABASE_URL: required[\s\S]*TEMPORAL_ADDRESS: required/);
  });

  it('names the variable to change when a port is already in use', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await expect(assertPortFree(port, 'TEMPORAL_UI_PORT')).rejects.toThrow(
      `Port ${port} is already in use (TEMPORAL_UI_PORT). Stop what uses it or set TEMPORAL_UI_PORT to a free port.`,
    );
    await new Promise((resolve) => server.close(resolve));
    await expect(assertPortFree(port, 'TEMPORAL_UI_PORT')).resolves.toBeUndefined();
  });

  it('uses TEMPORAL_CLI_PATH first and refuses one that is not executable', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
    const fake = path.join(dir, 'temporal');
    fs.writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
    const before = process.env.TEMPORAL_CLI_PATH;
    try {
      process.env.TEMPORAL_CLI_PATH = fake;
      expect(findOrInstallTemporalCli()).toBe(fake);
      process.env.TEMPORAL_CLI_PATH = path.join(dir, 'missing');
      expect(() => findOrInstallTemporalCli()).toThrow(/is not an executable file/);
    } finally {
      if (before === undefined) delete process.env.TEMPORAL_CLI_PATH;
      else process.env.TEMPORAL_CLI_PATH = before;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
