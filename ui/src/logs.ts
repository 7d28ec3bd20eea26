import { followLog } from '../../src/model/log-tail.js';
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

export interface TailCallbacks {
  lines: (text: string) => void;
  rotated: () => void;
  error: (error: Error) => void;
}

/** Follows a log file until the signal aborts, with the algorithm the CLI's tail shares (src/model/log-tail.ts). */
export async function tail(serviceId: string, instanceId: string, fileName: string, callbacks: TailCallbacks, signal: AbortSignal): Promise<void> {
  const reader = {
    read: async (file: string, offset: number) =>
      (await get<{ data: string; offset: number } | undefined>(`${logBase(serviceId, instanceId)}/read/${seg(file)}?offset=${offset}&length=${READ_LENGTH}`, signal)) ?? {
        data: '',
        offset: 0,
      },
    list: () => listLogFiles(serviceId, instanceId, signal),
  };
  const idle = () => new Promise<void>((resolve) => setTimeout(resolve, TAIL_INTERVAL_MS));
  try {
    await followLog(reader, fileName, TAIL_BACKLOG_BYTES, { write: callbacks.lines, rotated: callbacks.rotated }, {
      stopped: () => signal.aborted,
      idle,
      failed: (error) => callbacks.error(error as Error),
    });
  } catch (error) {
    // Leaving the page aborts the reads under way; any other error ends the tail on screen.
    if (!signal.aborted) callbacks.error(error as Error);
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
