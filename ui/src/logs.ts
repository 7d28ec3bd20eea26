import { authHeaders, get, seg } from './api.js';

/**
 * The instance log files, through the controller's log proxy (`/apis/v1/logfiles/...`, role `logs`). Log lines are
 * no events, so the tail reads the file again every TAIL_INTERVAL_MS from where it left off; when the file is
 * shorter than that offset it was rotated (output.log renamed, a new one begun) and the tail starts the new file
 * from its beginning.
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

/** Follows a log file until the signal aborts. */
export async function tail(serviceId: string, instanceId: string, fileName: string, callbacks: TailCallbacks, signal: AbortSignal): Promise<void> {
  const read = (offset: number) =>
    get<Chunk | undefined>(`${logBase(serviceId, instanceId)}/read/${seg(fileName)}?offset=${offset}&length=${READ_LENGTH}`, signal);
  const sizeNow = async () => (await read(-1))?.offset ?? 0;
  let offset = Math.max(0, (await sizeNow()) - TAIL_BACKLOG_BYTES);
  while (!signal.aborted) {
    try {
      const chunk = await read(offset);
      const data = chunk?.data ?? '';
      if (data.length > 0) {
        callbacks.lines(data);
        offset += byteLength(data);
        continue;
      }
      if ((await sizeNow()) < offset) {
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
