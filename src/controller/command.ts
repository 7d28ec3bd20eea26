import type { Command } from 'commander';

/** `drove controller --config controller.yml`: runs a controller until SIGINT/SIGTERM. */
export function registerControllerCommand(program: Command): void {
  program
    .command('controller')
    .description('Run a controller (the HTTP API, engine and reconciler; leader election when several share etcd)')
    .requiredOption('--config <file>', 'controller configuration (YAML)')
    .action(async (options: { config: string }) => {
      // Loaded here, not at the top: every operator command starts this binary, and the controller's code
      // (fastify, the engine, the stores) would double its start-up for nothing (docs/cli.md#start-up).
      const { loadControllerConfig } = await import('./config.js');
      const { startControllerServer } = await import('./server.js');
      const config = loadControllerConfig(options.config);
      const running = await startControllerServer(config);
      process.stdout.write(`drove controller listening on ${running.url} (store: ${config.store.type})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.close();
    });
}
