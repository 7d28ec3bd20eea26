import type { ControllerCore } from '../core.js';
import type { ControllerConfig } from '../config.js';
import type { Access, Principal } from './auth.js';

/** What every route plugin gets: the core behind the seam, and the configuration. */
export interface ApiContext {
  core: ControllerCore;
  config: ControllerConfig;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Access level of the route (reference access matrix, §6.1); routes without one are read routes. */
    access?: Access;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}
