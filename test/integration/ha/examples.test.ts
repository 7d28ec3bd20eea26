import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadControllerConfig } from '../../../src/controller/config.js';
import { loadExecutorConfig } from '../../../src/executor/config.js';
import { durationMs } from '../../../src/model/index.js';

/** examples/ha must stay a working 3-controller setup: valid configs that agree with each other. */
describe('examples/ha', () => {
  const dir = join(import.meta.dirname, '..', '..', '..', 'examples', 'ha');
  const controllers = [1, 2, 3].map((n) => loadControllerConfig(join(dir, `controller-${n}.yml`)));
  const executor = loadExecutorConfig(join(dir, 'executor.yml'));

  it('has three controllers on etcd that differ only in where they listen', () => {
    const ports = controllers.map((c) => c.server.port);
    expect(new Set(ports).size).toBe(3);
    for (const config of controllers) {
      expect(config.store.type).toBe('etcd');
      if (config.store.type !== 'etcd') continue;
      expect(config.store.endpoints).toHaveLength(3);
      const { server: _server, ...shared } = config;
      const { server: _first, ...firstShared } = controllers[0]!;
      expect(shared).toEqual(firstShared);
    }
  });

  it('has an executor that knows every controller and shares their secrets', () => {
    expect(executor.controllers).toEqual(controllers.map((c) => `http://${c.server.hostname}:${c.server.port}`));
    expect(executor.clusterAuth.secrets).toEqual(controllers[0]!.clusterAuth.secrets);
    // A failover must never make the executor look gone: it finds the new leader well within staleExecutorAge.
    const findLeaderAndReport = durationMs(executor.options.leaderRetryMax) + durationMs(executor.options.heartbeatInterval);
    for (const config of controllers) expect(durationMs(config.options.staleExecutorAge)).toBeGreaterThan(findLeaderAndReport);
  });
});
