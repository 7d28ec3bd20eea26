import type { LeaderElector } from '../../src/controller/leadership/leadership.js';

/** Leadership the test hands out and takes away: `gain` starts a leader term, `lose` ends it. */
export class TestElector implements LeaderElector {
  private handlers: Parameters<LeaderElector['start']>[0] | undefined;
  private leading = false;
  async start(handlers: Parameters<LeaderElector['start']>[0]) {
    this.handlers = handlers;
  }
  async gain() {
    this.leading = true;
    await this.handlers!.onAcquired();
  }
  async lose() {
    this.leading = false;
    await this.handlers!.onLost();
  }
  isLeader() {
    return this.leading;
  }
  leaderAddress() {
    return this.leading ? 'me:4000' : 'other:4000';
  }
  async stop() {
    if (this.leading) await this.lose();
  }
}
