import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadExecutorConfig, outgoingSecret, parseExecutorConfig, resolveExecutorOptions } from '../../../src/executor/config.js';

const SECRETS = { secrets: [{ nodeType: 'CONTROLLER' as const, secret: 'c' }, { nodeType: 'EXECUTOR' as const, secret: 's' }] };

describe('executor config', () => {
  it('fills every default', () => {
    const config = parseExecutorConfig({ controllers: ['http://c1:10000'], clusterAuth: SECRETS });
    expect(config.server).toEqual({ host: '0.0.0.0', port: 3000 });
    expect(config.docker.socket).toBe('/var/run/docker.sock');
    expect(config.cacheImages).toBe(true);
    expect(config.maxOpenFiles).toBeUndefined();
    expect(config.resources.exposedMemPercentage).toBe(100);
    const resolved = resolveExecutorOptions({ ...config, server: { ...config.server, hostname: 'h1' } });
    expect(resolved).toMatchObject({ hostname: 'h1', heartbeatMs: 20_000, zombieCheckMs: 60_000, readinessPollMs: 1_000 });
    // Logs of stopped instances: kept 7 days (Drove's staleInstanceAge), checked hourly.
    expect(resolved).toMatchObject({ instanceLogRetentionMs: 7 * 24 * 3_600_000, instanceLogCleanupMs: 3_600_000 });
    expect(resolveExecutorOptions(config).hostname.length).toBeGreaterThan(0);
  });

  it('sends the EXECUTOR secret', () => {
    const config = parseExecutorConfig({
      controllers: ['http://c1:10000'],
      clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 'c' }, { nodeType: 'EXECUTOR', secret: 'e' }] },
    });
    expect(outgoingSecret(config)).toBe('e');
  });

  it('names the field and the rule on bad input', () => {
    expect(() => parseExecutorConfig({})).toThrow(/controllers/);
    expect(() => parseExecutorConfig({ controllers: ['not a url'], clusterAuth: SECRETS })).toThrow(
      'controllers.0 controllers entries must be URLs',
    );
    expect(() => parseExecutorConfig({ controllers: ['http://c'], clusterAuth: { secrets: [] } })).toThrow('clusterAuth.secrets at least one cluster secret');
    // Only controllers may call an executor, and they prove it with the CONTROLLER secret.
    expect(() => parseExecutorConfig({ controllers: ['http://c'], clusterAuth: { secrets: [{ nodeType: 'EXECUTOR', secret: 's' }] } })).toThrow(
      'clusterAuth.secrets a CONTROLLER secret is required',
    );
    expect(() => parseExecutorConfig({ controllers: ['http://c'], clusterAuth: SECRETS, resources: { exposedMemPercentage: 0 } })).toThrow('resources.exposedMemPercentage');
    expect(() => parseExecutorConfig({ controllers: ['http://c'], clusterAuth: SECRETS, options: { heartbeatInterval: 'soon' } })).toThrow('options.heartbeatInterval Invalid duration');
  });

  it('loads YAML files and reports unreadable or invalid ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'ok.yml'), 'controllers: [http://c:10000]\nclusterAuth:\n  secrets: [{nodeType: CONTROLLER, secret: c}, {nodeType: EXECUTOR, secret: s}]\ntags: [a]\n');
    expect(loadExecutorConfig(join(dir, 'ok.yml')).tags).toEqual(['a']);
    writeFileSync(join(dir, 'bad.yml'), 'controllers: [\n');
    expect(() => loadExecutorConfig(join(dir, 'bad.yml'))).toThrow('is not valid YAML');
    expect(() => loadExecutorConfig(join(dir, 'none.yml'))).toThrow('Cannot read executor config');
  });
});
