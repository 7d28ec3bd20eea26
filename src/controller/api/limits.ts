import { availableParallelism } from 'node:os';

/**
 * Bounds that keep one abusive or broken client from starving the cluster (executor heartbeats, operators).
 * Every value says why it has that default; docs/security.md lists them for operators. The bound on concurrent
 * log reads is the log proxy's (LogProxyOptions.maxConcurrentReads).
 */
export interface ControllerHttpLimits {
  /**
   * A client must have sent all request headers within this time (slowloris defence). Every real client (CLI,
   * executors, browsers) sends its headers in one packet; 10 s covers a congested link many times over.
   */
  headersTimeoutMs: number;
  /**
   * The whole request (headers and body) must have arrived within this time; it bounds how long a slow upload
   * holds a socket and a parser. Bodies are at most 1 MiB: even at 100 KiB/s that is 10 s. It covers receiving
   * the request only, so long log downloads and event streams are not cut.
   */
  requestTimeoutMs: number;
  /**
   * An idle keep-alive connection is closed after this time. 72 s (fastify's default, stated here on purpose):
   * longer than the 60 s idle timeout of common load balancers in front of the controller, so the controller
   * never closes a connection the balancer is about to reuse (which the balancer would answer with a 502).
   */
  keepAliveTimeoutMs: number;
  /**
   * How often Node checks the two timeouts above (its default is 30 s, which would let a slowloris socket live
   * up to 40 s instead of 10 s); a pass over the open connections every 2 s costs next to nothing.
   */
  connectionsCheckingIntervalMs: number;
  /**
   * Credential checks that are not answered from the cache of verified logins, per source IP and window: every
   * failed login counts, a successful one counts once (it is then cached). 30 a minute lets an office behind one
   * NAT address log in together, and holds online password guessing to 43,200 tries a day per address.
   */
  loginAttemptsPerWindow: number;
  loginWindowMs: number;
  /**
   * Threads that verify bcrypt passwords, off the event loop. bcrypt is meant to be slow (~100 ms at cost 10);
   * one thread on a 2-core host leaves the other core to the event loop, at most 2 on larger hosts because more
   * verification throughput helps a password guesser more than the rare uncached real login.
   */
  passwordWorkers: number;
  /**
   * Verifications waiting for a thread; beyond this a login is answered 429 at once instead of queueing (a
   * flood from many addresses, each under the per-IP limit, cannot grow the queue, and so memory, without bound).
   */
  passwordQueue: number;
  /**
   * Event streams open at once (docs/events.md); one more is answered 429. Each holds a socket and at most about
   * 64 KiB of unsent data: 500 keep them under ~32 MiB and half of a default 1024 file descriptor limit, with room
   * left for executors, the store and log reads.
   */
  maxEventStreams: number;
  /**
   * A comment line on every event stream this often. The HTML standard's advice for server-sent events ("a comment
   * line every 15 seconds or so") against proxies that drop quiet connections; also well inside the 60 s idle
   * timeout of common load balancers (nginx proxy_read_timeout, AWS ALB), and what lets a client tell a quiet
   * cluster from a dead connection.
   */
  eventStreamHeartbeatMs: number;
  /**
   * How far an event stream client may fall behind before it is cut off: the bytes it has not taken (its
   * socket's unsent buffer plus the events for it emitted since it last drained it). 1 MiB is about 2,000 events,
   * minutes of a large rollout; a client that reads at all keeps far below it, and one that stopped reading costs
   * the controller no more than this before it is closed (it then reconnects with Last-Event-ID).
   */
  eventStreamMaxLagBytes: number;
}

export const DEFAULT_CONTROLLER_HTTP_LIMITS: ControllerHttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  connectionsCheckingIntervalMs: 2_000,
  loginAttemptsPerWindow: 30,
  loginWindowMs: 60_000,
  passwordWorkers: Math.max(1, Math.min(2, availableParallelism() - 1)),
  passwordQueue: 64,
  maxEventStreams: 500,
  eventStreamHeartbeatMs: 15_000,
  eventStreamMaxLagBytes: 1024 * 1024,
};
