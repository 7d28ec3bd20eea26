/**
 * Following one log file of an instance through the log read API (byte offsets into the file) across the
 * executor's rotations: what `drove lsinstances tail` and the console's log page both do (docs/events.md#drove-lsinstances-tail-and-log-rotation).
 *
 * The executor rotates output.log by renaming it to output.log-<n> (n going up) and starting a new one, so an
 * offset reached in the old file means nothing in the new one. A rotation shows as a new, higher `<file>-<n>` in the
 * instance's file list, or as a file now shorter than the offset (an executor naming rotated files otherwise, or a
 * truncation). Either way the new file is read from its start; with the list, the rest of the old file (and any
 * rotated since) is read first where it is still plain text. A rotated file already gzipped cannot be read at an
 * offset: what it held past the offset is then not shown.
 *
 * The order of the looks is what makes it right. The list is looked at after each read: when it shows no new
 * rotation, none happened before the read either, so what was read is of the file being followed; when it does,
 * the read may have been of the new file at an offset that means nothing there, so that chunk is dropped and the
 * old file's rest read from its copy. The size is looked at before the list: looked at after, a rotation between
 * the two would pass for a file replaced some other way and the old file's copy would be printed again whole.
 */

export interface LogReader {
  /** `.../read/<file>?offset=<offset>`; offset -1 answers no data and the file's size as `offset`. */
  read(file: string, offset: number): Promise<{ data: string; offset: number }>;
  /** `.../list`: the names of the instance's log files. */
  list(): Promise<readonly string[]>;
}

export interface LogTailControl {
  /** Asked before every look; true ends the tail. */
  stopped(): boolean;
  /** Waits before an idle file is looked at again. */
  idle(): Promise<void>;
  /** A look that failed: given, it hears the error and the tail tries again after `idle`; not given, the tail throws it. */
  failed?: (error: unknown) => void;
}

export interface LogTailOutput {
  /** Text of the file, in order (a chunk may end inside a line). */
  write(text: string): void;
  /** The file was rotated (or replaced): what follows is the new file's. */
  rotated(): void;
}

const byteLength = (text: string) => new TextEncoder().encode(text).length;

/** Follows `file` from `backlogBytes` before its end until `control.stopped()`. */
export async function followLog(reader: LogReader, file: string, backlogBytes: number, output: LogTailOutput, control: LogTailControl): Promise<void> {
  const rotationsNow = async () => rotationIndexes(await reader.list().catch(() => []), file);
  const sizeNow = async () => (await reader.read(file, -1)).offset;
  /** Everything of a rotated copy from `from` on; a copy pruned or gzipped meanwhile has nothing more to give. */
  const drain = async (copy: string, from: number) => {
    for (let at = from; ; ) {
      const chunk = await reader.read(copy, at).catch(() => undefined);
      if (!chunk || chunk.data.length === 0) return;
      output.write(chunk.data);
      at += byteLength(chunk.data);
    }
  };
  let offset = Math.max(0, (await sizeNow()) - backlogBytes);
  let rotation = (await rotationsNow()).at(-1) ?? 0;
  while (!control.stopped()) {
    try {
      const { data } = await reader.read(file, offset);
      const shrunk = data.length === 0 && (await sizeNow()) < offset;
      const since = (await rotationsNow()).filter((n) => n > rotation);
      if (since.length > 0) {
        // The oldest new copy is the file this tail was reading: its rest, then the whole of any rotated since.
        for (const [i, n] of since.entries()) await drain(`${file}-${n}`, i === 0 ? offset : 0);
        rotation = since.at(-1)!;
        output.rotated();
        offset = 0;
        continue;
      }
      if (data.length > 0) {
        output.write(data);
        offset += byteLength(data);
        continue;
      }
      if (shrunk) {
        output.rotated();
        offset = 0;
        continue;
      }
    } catch (error) {
      if (!control.failed || control.stopped()) throw error;
      control.failed(error);
    }
    await control.idle();
  }
}

/** The n of every `<file>-<n>` (or `<file>-<n>.gz`) among `files`, ascending. */
export function rotationIndexes(files: readonly unknown[], file: string): number[] {
  const prefix = `${file}-`;
  const indexes = new Set<number>();
  for (const name of files) {
    if (typeof name !== 'string' || !name.startsWith(prefix)) continue;
    const index = /^(\d+)(\.gz)?$/.exec(name.slice(prefix.length))?.[1];
    if (index !== undefined) indexes.add(Number(index));
  }
  return [...indexes].sort((a, b) => a - b);
}
