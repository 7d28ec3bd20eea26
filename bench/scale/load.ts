import { Agent, request } from 'undici';
import { percentile } from './stats.js';

/**
 * The API read load of a bench:scale rollout: a fixed rate of GETs spread round-robin over a few routes, open loop
 * (the next request goes out on schedule whether or not the previous ones have answered), so a controller that
 * stalls shows the stall in the latencies instead of the load easing off (no coordinated omission).
 */

export interface ApiRoute {
  /** Short name for the tables. */
  name: string;
  path: string;
}

export interface RouteLatency {
  name: string;
  requests: number;
  errors: number;
  p50Ms?: number;
  p99Ms?: number;
}

export interface ApiLoad {
  /** Stops sending, waits for the requests in flight (each is bounded by its timeout) and returns the figures. */
  stop(): Promise<RouteLatency[]>;
}

/** A request not answered within this counts as an error; far above any goal, so it is not what the p99 measures. */
const REQUEST_TIMEOUT_MS = 30_000;

export function startApiLoad(baseUrl: string, credentials: { username: string; password: string }, routes: ApiRoute[], perSecond: number): ApiLoad {
  const dispatcher = new Agent({ connections: 64, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  const authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const latencies = routes.map(() => [] as number[]);
  const errors = routes.map(() => 0);
  const inFlight = new Set<Promise<void>>();
  const periodMs = 1000 / perSecond;
  const startedAt = performance.now();
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const send = (index: number) => {
    const route = routes[index]!;
    const began = performance.now();
    const done = request(`${baseUrl}${route.path}`, { dispatcher, headers: { authorization } })
      .then(async (res) => {
        await res.body.dump({ limit: Number.MAX_SAFE_INTEGER });
        if (res.statusCode !== 200) errors[index]! += 1;
      })
      .catch(() => {
        errors[index]! += 1;
      })
      // Failures count with the time they took: a timeout left out would flatter the p99.
      .then(() => {
        latencies[index]!.push(performance.now() - began);
      })
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  };

  // Each tick sends every request whose scheduled time has come, so a late timer catches up instead of dropping load.
  const tick = () => {
    if (stopped) return;
    const due = Math.floor((performance.now() - startedAt) / periodMs) + 1;
    while (sent < due) {
      send(sent % routes.length);
      sent += 1;
    }
    timer = setTimeout(tick, Math.max(0, startedAt + sent * periodMs - performance.now()));
  };
  tick();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await Promise.all([...inFlight]);
      await dispatcher.close();
      return routes.map((route, i) => {
        const values = latencies[i]!;
        const p50 = percentile(values, 50);
        const p99 = percentile(values, 99);
        return {
          name: route.name,
          requests: values.length,
          errors: errors[i]!,
          ...(p50 !== undefined ? { p50Ms: p50 } : {}),
          ...(p99 !== undefined ? { p99Ms: p99 } : {}),
        };
      });
    },
  };
}
