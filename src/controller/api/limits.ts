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
};
