import type { DroveClient } from './client.js';
import type { Interrupt } from './commands/lsinstances.js';

/**
 * `drove lsinstances tail`: follows one log file of an instance through the log read API (offsets into the file),
 * across rotations. The executor rotates output.log by renaming it to output.log-<n> and starting a new one, so
 * the offset reached in the old file means nothing in the new one: a rotation is seen as a new, higher
 * `<file>-<n>` in the instance's file list (looked at after every read), or as a file now shorter than the
 * offset (an executor naming rotated files otherwise, or a truncation). Either way the new file is read from its
 * start; with the list, the rest of the old file (and any rotated since) is read first where it is still plain
 * text, so nothing is skipped. A rotated file already gzipped (LoggingSpec `compress`) cannot be read at an
 * offset: what it held past the offset is then not shown.
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
  const read = (offset: number) =>
    client.getRaw<{ data: string; offset: number }>(`${options.base}/read/${encodeURIComponent(options.file)}?offset=${offset}`);
  let rotation = Math.max(-1, ...(await rotatedIndexes(client, options)));
  let offset = Math.max(0, (await read(-1)).offset - options.skipBytes);
  const drain = async (file: string, from: number) => {
    const base = `${options.base}/read/${encodeURIComponent(file)}?offset=`;
    for (let at = from; ; ) {
      let chunk;
      try {
        chunk = await client.getRaw<{ data: string; offset: number }>(`${base}${at}`);
      } catch {
        return; // pruned or gzipped meanwhile
      }
      if (chunk.data.length === 0) return;
      options.write(chunk.data);
      at += Buffer.byteLength(chunk.data, 'utf8');
    }
  };
  const restart = () => {
    options.note(`${options.file} was rotated; following the new file`);
    offset = 0;
  };
  while (!stop.stopped) {
    const chunk = await read(offset);
    // The list is looked at after the read: when it shows no new rotation, none happened before the read either,
    // so the chunk is of the file this tail was reading. When it does, the read may have been of the new file
    // (at an offset that means nothing there): the chunk is dropped and the old file's rest read from the
    // rotated copy instead.
    const rotated = (await rotatedIndexes(client, options)).filter((n) => n > rotation);
    if (rotated.length > 0) {
      // The oldest new one is the file this tail was reading: its rest, then whole files rotated since.
      for (const [i, n] of rotated.entries()) await drain(`${options.file}-${n}`, i === 0 ? offset : 0);
      rotation = rotated.at(-1)!;
      restart();
      continue;
    }
    if (chunk.data.length > 0) {
      options.write(chunk.data);
      offset += Buffer.byteLength(chunk.data, 'utf8');
      continue;
    }
    if ((await read(-1)).offset < offset) {
      restart();
      continue;
    }
    await stop.sleep(IDLE_POLL_MS);
  }
}

/** The n of every `<file>-<n>` (or `<file>-<n>.gz`) the instance has, ascending; none when the list is not readable. */
async function rotatedIndexes(client: DroveClient, options: TailOptions): Promise<number[]> {
  let files: unknown;
  try {
    files = (await client.getRaw<{ files?: unknown }>(`${options.base}/list`)).files;
  } catch {
    return [];
  }
  if (!Array.isArray(files)) return [];
  const prefix = `${options.file}-`;
  const indexes = new Set<number>();
  for (const name of files) {
    if (typeof name !== 'string' || !name.startsWith(prefix)) continue;
    const index = /^(\d+)(\.gz)?$/.exec(name.slice(prefix.length))?.[1];
    if (index !== undefined) indexes.add(Number(index));
  }
  return [...indexes].sort((a, b) => a - b);
}
