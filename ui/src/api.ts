import type { ApiResponse } from '../../src/model/api.js';

/**
 * Every call the console makes goes to the controller's API with the user's credentials (docs/console.md,
 * "Login"): HTTP Basic in an Authorization header per request, read from sessionStorage. `credentials: 'omit'`
 * keeps the browser from adding anything of its own (cookies, a remembered Basic login) and from opening its
 * login prompt on a 401: the console shows its own form instead.
 */

const STORAGE_KEY = 'drove.console.authorization';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Drove's `data.validationErrors`, one message per problem. */
    readonly validationErrors: string[] = [],
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function storedAuthorization(): string | undefined {
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

export function storeAuthorization(value: string | undefined): void {
  if (value === undefined) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, value);
}

export function basicAuthorization(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

type UnauthorizedListener = () => void;
let onUnauthorized: UnauthorizedListener = () => undefined;

/** Called when a call answers 401: the stored credentials no longer work (changed password, removed user). */
export function setUnauthorizedListener(listener: UnauthorizedListener): void {
  onUnauthorized = listener;
}

export function authHeaders(authorization = storedAuthorization()): Record<string, string> {
  return authorization ? { authorization } : {};
}

/** A call to the API; resolves with `data` of a SUCCESS envelope, rejects with an ApiError naming what failed. */
export async function api<T>(
  method: 'GET' | 'POST',
  path: string,
  options: { body?: unknown; authorization?: string; signal?: AbortSignal } = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'omit',
      headers: {
        accept: 'application/json',
        ...authHeaders(options.authorization),
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError(0, `The controller did not answer (${(error as Error).message})`);
  }
  const text = await response.text();
  let envelope: Partial<ApiResponse<unknown>> | undefined;
  try {
    envelope = text ? (JSON.parse(text) as Partial<ApiResponse<unknown>>) : undefined;
  } catch {
    envelope = undefined;
  }
  if (response.status === 401 && options.authorization === undefined) onUnauthorized();
  if (!response.ok || envelope?.status === 'FAILED') {
    const data = envelope?.data as { validationErrors?: unknown } | undefined;
    const errors = Array.isArray(data?.validationErrors) ? data.validationErrors.map(String) : [];
    throw new ApiError(response.status, envelope?.message ?? `HTTP ${response.status}`, errors, envelope?.data);
  }
  // Raw JSON answers (the log file routes) have no envelope.
  if (envelope && 'status' in envelope && 'message' in envelope) return envelope.data as T;
  return envelope as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, signal ? { signal } : {});
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body === undefined ? {} : { body });

/** Path segment, encoded. */
export const seg = (value: string) => encodeURIComponent(value);

/** `?a=1&b=x&b=y` from a record; undefined values are left out, arrays repeat the key. */
export function queryString(params: Record<string, string | number | readonly string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === '') continue;
    if (Array.isArray(value)) for (const v of value as readonly string[]) search.append(key, v);
    else search.append(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
