import type { ControllerCore } from '../core.js';
import type { ControllerConfig } from '../config.js';
import type { Principal } from './auth.js';

/** What every route plugin gets: the core behind the seam, and the configuration. */
export interface ApiContext {
  core: ControllerCore;
  config: ControllerConfig;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access guard (access-guard.ts) once the caller is authenticated. */
    principal?: Principal;
  }
}
