import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

/**
 * The V8 CPU profiler of this process over one phase of a run, for the processes of bench:scale (the controller's
 * and each hollow worker's): started and stopped on request, so a profile holds the phase asked for rather than
 * the whole run (what `node --cpu-prof` would write). At most one profile at a time.
 */
export class PhaseProfiler {
  private session: Session | undefined;

  async start(): Promise<void> {
    if (this.session) throw new Error('a profile is already running');
    const session = new Session();
    session.connect();
    this.session = session;
    try {
      await session.post('Profiler.enable');
      // 1 ms, as node --cpu-prof samples.
      await session.post('Profiler.setSamplingInterval', { interval: 1000 });
      await session.post('Profiler.start');
    } catch (error) {
      this.session = undefined;
      session.disconnect();
      throw error;
    }
  }

  /** Stops the running profile and writes it as a .cpuprofile (JSON) to `path`; resolves with the path. */
  async stop(path: string): Promise<string> {
    const session = this.session;
    if (!session) throw new Error('no profile is running');
    this.session = undefined;
    try {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(path, JSON.stringify(profile));
      return path;
    } finally {
      session.disconnect();
    }
  }
}
