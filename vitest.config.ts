import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    // Integration and e2e tests drive real dockerd/etcd; give them room but never hang forever.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Two cores: run files in a couple of forks, not one per test.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
