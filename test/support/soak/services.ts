import type { LocalServiceSpec } from '../../../src/model/index.js';
import { TEST_IMAGE } from '../images.js';
import { httpCheck, httpdServiceSpec } from '../specs.js';

/**
 * The local services the soak drives: four shapes that exercise different rules. All run the offline test
 * image with quick probes, so an instance is HEALTHY about two seconds after its start and a dead one is noticed
 * within three.
 */

export interface SoakService {
  /** `name-version`, the service id. */
  readonly id: string;
  readonly spec: LocalServiceSpec;
  /** instancesPerHost of its CREATE. */
  readonly initialInstances: number;
  /** Host-level: one instance per host on a fixed port, no UPDATE_INSTANCE_COUNT (Drove's rule). */
  readonly hostLevel: boolean;
}

/** Largest instancesPerHost an UPDATE_INSTANCE_COUNT of the soak asks for (CPU: 16 virtual cores per host). */
export const MAX_INSTANCES_PER_HOST = 3;

function spec(name: string, options: { hostLevel: boolean; port: number }): LocalServiceSpec {
  return httpdServiceSpec(name, {
    // The image is loaded on every host: a pull is never needed, so a short pull timeout keeps start waits short.
    executable: { type: 'DOCKER', url: TEST_IMAGE, dockerPullTimeout: '5 seconds' },
    exposedPorts: [{ name: 'main', port: options.port, type: 'HTTP' }],
    placementPolicy: { type: 'LOCAL', hostLevel: options.hostLevel },
    readiness: httpCheck('/cgi-bin/health', '500 milliseconds', 10),
    env: options.port === 8000 ? {} : { HTTP_PORT: String(options.port) },
    preShutdown: {
      hooks: [
        {
          type: 'HTTP',
          protocol: 'HTTP',
          portName: 'main',
          path: '/cgi-bin/prestop',
          verb: 'GET',
          successCodes: [200],
          connectionTimeout: '1 second',
          insecure: false,
        },
      ],
      waitBeforeKill: '200 milliseconds',
    },
  });
}

function service(name: string, initialInstances: number, hostLevel: boolean, port: number): SoakService {
  return { id: `${name}-1`, spec: spec(name, { hostLevel, port }), initialInstances, hostLevel };
}

export const SOAK_SERVICES: readonly SoakService[] = [
  service('SOAK_PAIR', 2, false, 8000),
  service('SOAK_SOLO', 1, false, 8000),
  service('SOAK_HOST', 1, true, 9100),
  service('SOAK_BURST', 1, false, 8000),
];
