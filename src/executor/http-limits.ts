/**
 * Bounds of the executor's HTTP server, whose only callers are controllers: a broken or hostile peer must not
 * hold its sockets or disk reads. Every value says why it has that default; docs/security.md lists them.
 */
export interface ExecutorHttpLimits {
  /** All request headers within this time (slowloris defence); a controller sends them in one packet. */
  headersTimeoutMs: number;
  /**
   * The whole request within this time. Message bodies are at most 16 MiB (the body limit) and come over the
   * cluster network: 60 s is 270 KiB/s for the largest, far slower than any LAN.
   */
  requestTimeoutMs: number;
  /**
   * Idle keep-alive connections are closed after this time. Controllers talk to an executor in bursts (a
   * rollout's START/STOP messages, a log tail polling every second) through undici, which reuses a connection
   * within its own 4 s and honours the `Keep-Alive: timeout` hint; 10 s keeps those reused and frees idle ones.
   */
  keepAliveTimeoutMs: number;
  /** How often Node checks the timeouts above (default 30 s would stretch the 10 s headers timeout to 40 s). */
  connectionsCheckingIntervalMs: number;
  /**
   * Log-file requests served at once; one more is answered 429 at once. A read buffers up to 4 MiB and a
   * download holds a file open: 16 bounds that to ~64 MiB and 16 descriptors, and leaves room for every tailer
   * the leader's proxy (itself bounded) sends to one host.
   */
  maxConcurrentLogReads: number;
}

export const DEFAULT_EXECUTOR_HTTP_LIMITS: ExecutorHttpLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 10_000,
  connectionsCheckingIntervalMs: 2_000,
  maxConcurrentLogReads: 16,
};
