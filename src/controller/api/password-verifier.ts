import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * bcrypt password verification on worker threads. bcryptjs is pure JavaScript: its async `compare` only slices
 * the ~100 ms of hashing into chunks on the main thread, so a flood of logins would still delay every other
 * request (executor heartbeats included). Here the event loop only posts a message and waits.
 *
 * A small hand-written pool rather than piscina: piscina loads its task from a file, and the TypeScript sources
 * the tests run have no JavaScript file to give it; an inline (eval) worker that `require`s bcryptjs by its
 * resolved path works the same from src/ and dist/.
 *
 * Unknown users are checked against a dummy hash of the configured cost, so that they take as long as a wrong
 * password and the answer time does not tell which user names exist.
 */

export class PasswordQueueFullError extends Error {
  constructor(limit: number) {
    super(`Too many logins are being verified (${limit} waiting); retry in a moment`);
    this.name = 'PasswordQueueFullError';
  }
}

export interface PasswordVerifierOptions {
  workers: number;
  /** Verifications that may wait for a thread; one more is refused with PasswordQueueFullError. */
  queueLimit: number;
  /** bcrypt cost of the dummy hash unknown users are compared against (that of the configured users). */
  dummyCost: number;
}

interface Task {
  given: string;
  stored: string | null;
  resolve: (ok: boolean) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  task: Task | undefined;
}

const BCRYPT_PATH = createRequire(import.meta.url).resolve('bcryptjs');

// CommonJS, run with `eval: true`. The dummy hash is made before the first task, so no answer costs one more hash.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptPath);
const dummy = bcrypt.hashSync('drove-ts: no such user', workerData.dummyCost);
parentPort.on('message', ({ given, stored }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(given, stored === null ? dummy : stored) && stored !== null;
  } catch {
    ok = false;
  }
  parentPort.postMessage(ok);
});
`;

export class PasswordVerifier {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private closed = false;
  /** Verifications done (tests count them to see which requests were answered from the cache). */
  verifications = 0;

  constructor(private readonly options: PasswordVerifierOptions) {}

  /** True when `given` matches the bcrypt `stored` hash; `undefined` (unknown user) is always false, as slowly. */
  verify(given: string, stored: string | undefined): Promise<boolean> {
    if (this.closed) return Promise.reject(new Error('password verifier is closed'));
    if (this.queue.length >= this.options.queueLimit) return Promise.reject(new PasswordQueueFullError(this.options.queueLimit));
    return new Promise<boolean>((resolve, reject) => {
      this.queue.push({ given, stored: stored ?? null, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) task.reject(new Error('password verifier is closed'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((s) => s.task === undefined) ?? this.spawn();
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.task = task;
      this.verifications++;
      slot.worker.postMessage({ given: task.given, stored: task.stored });
    }
  }

  private spawn(): Slot | undefined {
    if (this.slots.length >= this.options.workers) return undefined;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { bcryptPath: BCRYPT_PATH, dummyCost: this.options.dummyCost },
    });
    // The listening socket keeps a controller alive; an idle pool must not keep a finished test or CLI alive.
    worker.unref();
    const slot: Slot = { worker, task: undefined };
    worker.on('message', (ok: boolean) => {
      const task = slot.task;
      slot.task = undefined;
      task?.resolve(ok);
      this.dispatch();
    });
    const fail = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      slot.task?.reject(error);
      slot.task = undefined;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`password worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }
}

/** The bcrypt cost of a hash (`$2b$10$...` -> 10), or `fallback` when it is not a bcrypt hash. */
export function bcryptCost(hash: string, fallback = 10): number {
  const match = /^\$2[abxy]?\$(\d{2})\$/.exec(hash);
  return match ? Number(match[1]) : fallback;
}
