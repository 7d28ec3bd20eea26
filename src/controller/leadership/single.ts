import type { LeaderElector } from './leadership.js';

/** Embedded mode: one controller, always the leader. */
export class SingleLeaderElector implements LeaderElector {
  private leading = false;
  private handlers: Parameters<LeaderElector['start']>[0] | undefined;

  constructor(private readonly address: string) {}

  async start(handlers: Parameters<LeaderElector['start']>[0]): Promise<void> {
    this.handlers = handlers;
    this.leading = true;
    await handlers.onAcquired();
  }

  isLeader(): boolean {
    return this.leading;
  }

  leaderAddress(): string | undefined {
    return this.leading ? this.address : undefined;
  }

  async stop(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    await this.handlers?.onLost();
  }
}
