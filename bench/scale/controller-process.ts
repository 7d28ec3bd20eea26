import { readdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import { parseControllerConfig } from '../../src/controller/config.js';
import { startControllerServer, type RunningController } from '../../src/controller/server.js';
import { PhaseProfiler } from '../../test/support/cpu-profiler.js';
import { LoopDelayMeter } from '../../test/support/loop-delay.js';
import type { ControllerReply, ControllerRequest, ControllerUsage } from './protocol.js';

/**
 * The controller of a bench:scale run, alone in its own process (forked by controller.ts) so that the RSS, heap and
 * CPU seconds it reports are the controller's and not the bench's, the load generator's or the fleet's. It takes
 * its config over IPC, answers usage questions, profiles a phase of the run on request (the inspector's CPU
 * profiler, so a profile holds one phase rather than the whole run) and stops on request.
 */

let running: RunningController | undefined;
/** How late the controller served its timers and sockets: a stalled loop delays every heartbeat and report alike. */
const loopDelay = new LoopDelayMeter();
const profiler = new PhaseProfiler();

function reply(message: ControllerReply): void {
  process.send?.(message);
}

process.on('message', (request: ControllerRequest) => {
  void handle(request).then(
    (result) => reply({ id: request.id, ok: true, result }),
    (error: unknown) => reply({ id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});

async function handle(request: ControllerRequest): Promise<unknown> {
  switch (request.cmd) {
    case 'start': {
      const config = parseControllerConfig(request.config, 'bench:scale controller config');
      running = await startControllerServer(config, { logger: pino({ level: config.logLevel }) });
      return { url: running.url, pid: process.pid };
    }
    case 'usage': {
      const usage = process.resourceUsage();
      const memory = process.memoryUsage();
      const delay = loopDelay.take();
      return {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        // resourceUsage is in microseconds.
        cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
        ...(request.openFds
          ? {
              openFds: readdirSync('/proc/self/fd').length,
              fdLimit: Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? NaN),
            }
          : {}),
        loopDelayP99Ms: delay.p99Ms,
        loopDelayMaxMs: delay.maxMs,
      } satisfies ControllerUsage;
    }
    case 'profile-start':
      await profiler.start();
      return null;
    case 'profile-stop':
      return profiler.stop(request.path);
    case 'stop': {
      await running?.close();
      running = undefined;
      // After the reply is sent: the parent waits for the exit.
      setImmediate(() => process.exit(0));
      return null;
    }
  }
}

// A parent that dies must not leave a controller behind holding ports and an etcd lease.
process.on('disconnect', () => {
  void (running?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
