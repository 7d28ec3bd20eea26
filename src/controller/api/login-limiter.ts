import type { FastifyInstance, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { failure } from '../../model/index.js';
import { ApiError } from './errors.js';

/**
 * Per-source-IP limit on credential checks (@fastify/rate-limit). Only checks that cannot be answered from the
 * cache of verified logins are counted (auth.ts calls `admit` just before one), so cluster-secret and
 * instance-token traffic and users already logged in are never limited; a limited address gets 429 for every
 * new check, right or wrong, since answering a correct guess would still let a guesser go on.
 */
export type LoginAdmission = (request: FastifyRequest) => Promise<void>;

export interface LoginLimitOptions {
  max: number;
  windowMs: number;
}

/** Addresses tracked at once; beyond it the least recently seen is forgotten (the plugin's LRU store). */
const TRACKED_ADDRESSES = 10_000;

export function registerLoginLimiter(app: FastifyInstance, options: LoginLimitOptions): LoginAdmission {
  // global: false: the plugin adds no hook to any route; the limiter below is called only where auth.ts says.
  void app.register(rateLimit, {
    global: false,
    max: options.max,
    timeWindow: options.windowMs,
    cache: TRACKED_ADDRESSES,
    keyGenerator: (request) => request.ip,
  });
  let limiter: ReturnType<FastifyInstance['createRateLimit']> | undefined;
  return async (request) => {
    limiter ??= app.createRateLimit();
    const result = await limiter(request);
    if (result.isAllowed || !result.isExceeded) return;
    throw new ApiError(
      429,
      failure(`Too many login attempts from ${request.ip}: at most ${result.max} per ${result.timeWindow / 1000} s, retry in ${result.ttlInSeconds} s`),
      { 'retry-after': String(result.ttlInSeconds) },
    );
  };
}
