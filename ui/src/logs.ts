import { authHeaders, get, seg } from './api.js';

/**
 * The instance log files, through the controller's log proxy (`/apis/v1/logfiles/...`, role `logs`). Log lines are
 * no events, so the tail reads the file again every TAIL_INTERVAL_MS from where it left off, and follows the
 * file across rotations (see `tail`).
 */

export const TAIL_INTERVAL_MS = 1_000;
/** What a tail shows of the file when it opens: the last lines, not the whole file. */
export const TAIL_BACKLOG_BYTES = 16 * 1024;
/** One read; a file that grew more is read in several. */
const READ_LENGTH = 32_768;

export const logBase = (serviceId: string, instanceId: string) => `/apis/v1/logfiles/localservices/${seg(serviceId)}/${seg(instanceId)}`;

export async function listLogFiles(serviceId: string, instanceId: string, signal?: AbortSignal): Promise<string[]> {
  const answer = await get<{ files?: string[] } | undefined>(`${logBase(serviceId, instanceId)}/list`, signal);
  return answer?.files ?? [];
}

interface Chunk {
  data: string;
  offset: number;
}

export interface TailCallbacks {
  lines: (text: string) => void;
  rotated: () => void;
  error: (error: Error) => void;
}

const byteLength = (text: string) => new TextEncoder().encode(text).length;

/** The rotation indexes among the files (`output.log-3`, `output.log-3.gz`), oldest first. */
function rotationsOf(files: readonly string[], fileName: string): number[] {
  const indexes = new Set<number>();
  for (const file of files) {
    const index = file.startsWith(`${fileName}-`) ? /^(\d+)(\.gz)?$/.exec(file.slice(fileName.length + 1))?.[1] : undefined;
    if (index !== undefined) indexes.add(Number(index));
  }
  return [...indexes].sort((x, y) => x - y);
}

/**
 * Follows a log file until the signal aborts. A rotation shows as a new rotated file in the listing (its index
 * goes up; a file being compressed changes its name, not its index): the rest of the old file is read from the
 * rotated copy when it is still plain text (then any rotated since, whole), then the new file from its start. A
 * file shorter than the offset was replaced some other way: it is followed from its start too.
 *
 * The listing is looked at after each read (and after the size check), not before: when it shows no new rotation,
 * none happened before the read either, so what was read is of the file being followed. When it does, the read may
 * have been of the new file at an offset that means nothing there: that chunk is dropped, and the old file's rest
 * read from its copy.
 */
export async function tail(serviceId: string, instanceId: string, fileName: string, callbacks: TailCallbacks, signal: AbortSignal): Promise<void> {
  const readFrom = (file: string, offset: number) =>
    get<Chunk | undefined>(`${logBase(serviceId, instanceId)}/read/${seg(file)}?offset=${offset}&length=${READ_LENGTH}`, signal);
  const sizeNow = async () => (await readFrom(fileName, -1))?.offset ?? 0;
  const listing = () => listLogFiles(serviceId, instanceId, signal);
  /** Everything of `file` from `offset` on. */
  const drain = async (file: string, offset: number) => {
    for (;;) {
      const data = (await readFrom(file, offset))?.data ?? '';
      if (data.length === 0) return;
      callbacks.lines(data);
      offset += byteLength(data);
    }
  };
  let offset = Math.max(0, (await sizeNow()) - TAIL_BACKLOG_BYTES);
  let rotated = rotationsOf(await listing(), fileName).at(-1) ?? 0;
  while (!signal.aborted) {
    try {
      const data = (await readFrom(fileName, offset))?.data ?? '';
      // Before the listing too: a rotation after this look would otherwise pass for a file replaced otherwise.
      const shrunk = data.length === 0 && (await sizeNow()) < offset;
      const files = await listing();
      const since = rotationsOf(files, fileName).filter((n) => n > rotated);
      if (since.length > 0) {
        // The oldest new copy is the file this tail was reading: its rest, then the whole of any rotated since.
        for (const [i, n] of since.entries()) {
          const copy = `${fileName}-${n}`;
          if (files.includes(copy)) await drain(copy, i === 0 ? offset : 0).catch(() => undefined);
        }
        rotated = since.at(-1)!;
        callbacks.rotated();
        offset = 0;
        continue;
      }
      if (data.length > 0) {
        callbacks.lines(data);
        offset += byteLength(data);
        continue;
      }
      if (shrunk) {
        callbacks.rotated();
        offset = 0;
        continue;
      }
    } catch (error) {
      if (signal.aborted) return;
      callbacks.error(error as Error);
    }
    await new Promise((resolve) => setTimeout(resolve, TAIL_INTERVAL_MS));
  }
}

/** A download with the user's credentials: fetched, then handed to the browser as a file. */
export async function download(serviceId: string, instanceId: string, fileName: string): Promise<void> {
  const response = await fetch(`${logBase(serviceId, instanceId)}/download/${seg(fileName)}`, { credentials: 'omit', headers: authHeaders() });
  if (!response.ok) throw new Error(`Download failed: HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const anchor = document.createElement('a');
  anchor.href = url;
  anchor.download = fileName;
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
