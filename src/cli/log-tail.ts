import { followLog } from '../model/log-tail.js';
import type { DroveClient } from './client.js';
import type { Interrupt } from './commands/lsinstances.js';

/**
 * `drove lsinstances tail`: follows one log file of an instance across rotations, with the algorithm the console
 * shares (src/model/log-tail.ts). A failed read ends the command with its error, as the Python CLI's does.
 */

export interface TailOptions {
  /** `/apis/v1/logfiles/localservices/<service>/<instance>` */
  base: string;
  file: string;
  /** Start this many bytes before the end of the file. */
  skipBytes: number;
  write: (text: string) => void;
  note: (text: string) => void;
}

/** An idle file is looked at again after this long: what `tail -f` does, and light on the executor. */
const IDLE_POLL_MS = 1_000;

export async function tailLog(client: DroveClient, options: TailOptions, stop: Interrupt): Promise<void> {
  const reader = {
    read: (file: string, offset: number) =>
      client.getRaw<{ data: string; offset: number }>(`${options.base}/read/${encodeURIComponent(file)}?offset=${offset}`),
    list: async () => {
      const files = (await client.getRaw<{ files?: unknown }>(`${options.base}/list`)).files;
      return Array.isArray(files) ? (files as unknown[]).filter((f): f is string => typeof f === 'string') : [];
    },
  };
  await followLog(
    reader,
    options.file,
    options.skipBytes,
    { write: options.write, rotated: () => options.note(`${options.file} was rotated; following the new file`) },
    { stopped: () => stop.stopped, idle: () => stop.sleep(IDLE_POLL_MS) },
  );
}
