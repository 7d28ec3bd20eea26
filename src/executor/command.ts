import type { Command } from 'commander';

/** `drove executor --config executor.yml`: runs until SIGINT/SIGTERM, then leaves its containers for the next start. */
export function registerExecutorCommand(program: Command): void {
  program
    .command('executor')
    .description('run an executor agent: starts local-service instances on this host with Docker')
    .requiredOption('-c, --config <file>', 'executor configuration (YAML)')
    .action(async (options: { config: string }) => {
      // Loaded only when this command runs, so that operator commands start fast (docs/cli.md#start-up).
      const { loadExecutorConfig } = await import('./config.js');
      const { startExecutor } = await import('./server.js');
      const config = loadExecutorConfig(options.config);
      const executor = await startExecutor(config);
      await new Promise<void>((resolve) => {
        const shutdown = () => resolve();
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      // A restart must not restart healthy services: containers stay, the next executor re-adopts them.
      await executor.stop({ leaveContainers: true });
    });
}
