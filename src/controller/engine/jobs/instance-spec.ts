import type { ConfigSpec, LocalServiceInfo, LocalServiceInstanceSpec, ResourceAllocation } from '../../../model/index.js';
import { effectiveHostAccess, isHostLevel } from '../../../model/index.js';
import { fetchConfig, type ConfigFetchLimits } from '../../../model/http-config-fetch.js';
import type { EngineDeps } from '../deps.js';
import { instanceAuthToken } from './instance-token.js';

/** The START_LOCAL_SERVICE_INSTANCE payload for one attempt (docs/design/operations.md#start-job). */
export async function buildInstanceSpec(
  deps: Pick<EngineDeps, 'timings' | 'instanceAuthSecret' | 'instanceTokenLifetimeMs' | 'clock' | 'options'>,
  info: LocalServiceInfo,
  instanceId: string,
  executorId: string,
  resources: ResourceAllocation[],
): Promise<LocalServiceInstanceSpec> {
  const spec = info.spec;
  const configs = await resolveControllerFetchedConfigs(spec.configs, {
    timeoutMs: deps.timings.configFetchTimeoutMs,
    maxBytes: deps.timings.configFetchMaxBytes,
    allowLocalAddresses: deps.options.raw.allowConfigFetchFromLocalAddresses,
    side: 'controller',
  });
  const out: LocalServiceInstanceSpec = {
    serviceId: info.serviceId,
    serviceName: spec.name,
    instanceId,
    executable: spec.executable,
    resources,
    ports: spec.exposedPorts,
    hostLevelInstance: isHostLevel(spec),
    healthcheck: spec.healthcheck,
    readiness: spec.readiness,
    instanceAuthToken: instanceAuthToken(
      deps.instanceAuthSecret,
      { serviceId: info.serviceId, instanceId, executorId },
      deps.clock.now(),
      deps.instanceTokenLifetimeMs,
    ),
  };
  if (spec.volumes) out.volumes = spec.volumes;
  if (configs) out.configs = configs;
  if (spec.logging) out.loggingSpec = spec.logging;
  if (spec.env) out.env = spec.env;
  if (spec.args) out.args = spec.args;
  if (spec.devices) out.devices = spec.devices;
  if (spec.preShutdown) out.preShutdown = spec.preShutdown;
  if (spec.userSpec) out.userSpec = spec.userSpec;
  const hostAccess = effectiveHostAccess(spec.hostAccess);
  if (hostAccess) out.hostAccess = hostAccess;
  return out;
}

/** CONTROLLER_HTTP_FETCH configs become INLINE ones at start time: the executor gets the fetched bytes. */
async function resolveControllerFetchedConfigs(
  configs: readonly ConfigSpec[] | undefined,
  limits: ConfigFetchLimits,
): Promise<ConfigSpec[] | undefined> {
  if (!configs) return undefined;
  const out: ConfigSpec[] = [];
  for (const config of configs) {
    if (config.type !== 'CONTROLLER_HTTP_FETCH') {
      out.push(config);
      continue;
    }
    const body = await fetchConfig(config.http, limits);
    out.push({ type: 'INLINE', localFilename: config.localFilename, data: body.toString('base64') });
  }
  return out;
}
