import { useEffect, useState } from 'preact/hooks';

/**
 * A small history router: the page addresses are the controller's console paths
 * (src/controller/api/console-pages.ts), so a reload or a shared link lands on the same page.
 */

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Location {
  return { path: window.location.pathname.replace(/\/+$/, '') || '/', query: new URLSearchParams(window.location.search) };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  for (const listener of listeners) listener();
  if (!options.replace) window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => {
  for (const listener of listeners) listener();
});

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    listeners.add(update);
    return () => void listeners.delete(update);
  }, []);
  return location;
}

/** Matches `/localservices/:serviceId` against a path; the parameters decoded, or undefined. */
export function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/').filter(Boolean);
  const have = path.split('/').filter(Boolean);
  if (want.length !== have.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w.startsWith(':')) {
      try {
        params[w.slice(1)] = decodeURIComponent(have[i]!);
      } catch {
        return undefined;
      }
    } else if (w !== have[i]) return undefined;
  }
  return params;
}

/** Clicks on same-origin links move within the page (modifier keys and new tabs keep the browser's behaviour). */
export function interceptLinks(root: HTMLElement): () => void {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const anchor = (event.target as Element | null)?.closest('a');
    if (!anchor || anchor.target || anchor.hasAttribute('download')) return;
    const url = new URL(anchor.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.startsWith('/apis/')) return;
    event.preventDefault();
    navigate(`${url.pathname}${url.search}${url.hash}`);
  };
  root.addEventListener('click', onClick);
  return () => root.removeEventListener('click', onClick);
}

export const paths = {
  dashboard: () => '/',
  services: () => '/localservices',
  service: (serviceId: string) => `/localservices/${encodeURIComponent(serviceId)}`,
  instance: (serviceId: string, instanceId: string) =>
    `/localservices/${encodeURIComponent(serviceId)}/instances/${encodeURIComponent(instanceId)}`,
  logTail: (serviceId: string, instanceId: string, logFileName: string) =>
    `${paths.instance(serviceId, instanceId)}/stream?logFileName=${encodeURIComponent(logFileName)}`,
  cluster: () => '/cluster',
  executor: (executorId: string) => `/executors/${encodeURIComponent(executorId)}`,
  events: () => '/events',
  fleet: () => '/fleet',
  login: () => '/login',
};
