import {
  isAllowedHostPath,
  isHostLevel,
  operationServiceId,
  type LocalServiceInfo,
  type LocalServiceInstanceInfo,
  type LocalServiceOperation,
  type LocalServiceSpec,
  type LocalServiceState,
  type CheckSpec,
} from '../../model/index.js';
import type { ControllerOptions } from '../config.js';
import { fixedPortClashes, hostAccessErrors, type FixedPortContext, type HostAccessOptions } from './host-access-rules.js';
import { placementErrors } from './placement-rules.js';
import { ALLOWED_OPERATIONS } from './state-machine.js';

/**
 * Semantic validation of specs and operations (docs/design/operations.md#validation). Schema checks already happened
 * in the API with the zod schemas of src/model; these are the rules that depend on controller options and current
 * state. Texts are Drove's, literally: clients match on them.
 */

const MAX_ARGS_LENGTH = 2048;

/** The controller options the spec rules depend on. */
export type SpecValidationOptions = Pick<
  ControllerOptions,
  'allowedMountDirs' | 'allowedLocalFileDirs' | 'disableCmdlArgs' | 'enableRawDeviceAccess'
> &
  HostAccessOptions;

/**
 * Every failing spec rule, in Drove's order; `[]` when the spec is acceptable. Host paths are compared on
 * segment boundaries (Drove compares string prefixes, so `/tmp` allowed `/tmpx`), and EXECUTOR_LOCAL_FILE paths
 * have an allow-list of their own (docs/security.md).
 */
export function validateSpec(spec: LocalServiceSpec, options: SpecValidationOptions): string[] {
  const errors: string[] = [];
  const portNames = spec.exposedPorts.map((p) => p.name);
  const checkPort = (check: CheckSpec | undefined) => {
    if (check?.mode.type === 'HTTP' && !portNames.includes(check.mode.portName)) {
      errors.push(`Invalid port name for health check: ${check.mode.portName}. Available ports: [${portNames.join(', ')}]`);
    }
  };
  checkPort(spec.healthcheck);
  checkPort(spec.readiness);
  if (!spec.resources.some((r) => r.type === 'CPU')) errors.push('Cpu requirements are mandatory');
  if (!spec.resources.some((r) => r.type === 'MEMORY')) errors.push('Memory requirements are mandatory');
  if (options.allowedMountDirs.length > 0) {
    for (const volume of spec.volumes ?? []) {
      if (!isAllowedHostPath(volume.pathOnHost, options.allowedMountDirs)) {
        errors.push(`Volume mount requested on non whitelisted host directory: ${volume.pathOnHost}`);
      }
    }
  }
  for (const config of spec.configs ?? []) {
    if (config.type !== 'EXECUTOR_LOCAL_FILE') continue;
    const path = config.filePathOnHost;
    if (path === undefined) errors.push(`Specify filePathOnHost for executor local file config ${config.localFilename}`);
    else if (options.allowedLocalFileDirs.length === 0) {
      errors.push(`Executor local file configs are disabled. To enable, list the host directories they may read in allowedLocalFileDirs in controller options: ${path}`);
    } else if (!isAllowedHostPath(path, options.allowedLocalFileDirs)) {
      errors.push(`Executor local file requested from non whitelisted host directory: ${path}`);
    }
  }
  const args = spec.args ?? [];
  if (args.length > 0) {
    if (options.disableCmdlArgs) errors.push('Passing command line to containers is disabled on this cluster');
    else if (args.join('').length > MAX_ARGS_LENGTH) {
      errors.push(`Maximum combined length of command line arguments can be ${MAX_ARGS_LENGTH}`);
    }
  }
  if ((spec.devices?.length ?? 0) > 0 && !options.enableRawDeviceAccess) {
    errors.push('Device access is disabled. To enable, set enableRawDeviceAccess: true in controller options.');
  }
  // Drove's rule, widened to Drove's COMPOSITE of LOCAL and tag constraints (docs/design/placement.md#tag-constraints).
  // A missing policy is "not local" too: Drove answers it with a server error.
  errors.push(...placementErrors(spec.placementPolicy));
  // drove-ts extensions after Drove's rules, so a Drove spec gets Drove's list.
  errors.push(...hostAccessErrors(spec, options));
  return errors;
}

/** What the operation validator needs to know about the engine's current state. */
export interface OperationValidationContext extends FixedPortContext {
  options: SpecValidationOptions;
  /** Current state machine state; undefined when the service has no state machine. */
  stateOf(serviceId: string): LocalServiceState | undefined;
  service(serviceId: string): LocalServiceInfo | undefined;
  instance(serviceId: string, instanceId: string): LocalServiceInstanceInfo | undefined;
}

/** Command validation; `[]` when the operation may be handed to the service's runner. */
export function validateOperation(op: LocalServiceOperation, ctx: OperationValidationContext): string[] {
  const serviceId = operationServiceId(op);
  if (!serviceId) return ['No local service id found in operation'];
  const state = ctx.stateOf(serviceId);
  if (op.type === 'CREATE') {
    if (state !== undefined || ctx.service(serviceId)) return [`Local service ${serviceId} already exists`];
    const errors = validateSpec(op.spec, ctx.options);
    if (errors.length > 0) return errors;
    if (isHostLevel(op.spec) && op.instancesPerHost > 1) {
      return ['Host level service cannot have more than one instance'];
    }
    return [];
  }
  if (state === undefined) return [`No state found for local service: ${serviceId}`];
  const allowed = ALLOWED_OPERATIONS[state] ?? [];
  if (allowed.length === 0) return [`No operations allowed for ${serviceId} as it is in ${state} state`];
  if (!allowed.includes(op.type)) {
    const sorted = [...allowed].sort();
    return [`Only [${sorted.join(', ')}] allowed for local service ${serviceId} as it is in ${state} state`];
  }
  switch (op.type) {
    case 'UPDATE_INSTANCE_COUNT': {
      const info = ctx.service(serviceId);
      if (!info || isHostLevel(info.spec)) {
        return ['Instance count update is allowed only for services that do not have Host Level option set'];
      }
      return [];
    }
    case 'REPLACE_INSTANCES': {
      const bad = unhealthyIds(serviceId, op.instanceIds, ctx);
      return bad.length > 0 ? [`There are no replaceable healthy instances with ids: [${bad.join(', ')}]`] : [];
    }
    case 'STOP_INSTANCES': {
      const bad = unhealthyIds(serviceId, op.instanceIds, ctx);
      return bad.length > 0 ? [`There are no healthy instances with ids: [${bad.join(', ')}]`] : [];
    }
    case 'ACTIVATE':
    case 'DEPLOY_TEST_INSTANCE':
      return fixedPortClashes(serviceId, ctx);
    default:
      return [];
  }
}

function unhealthyIds(serviceId: string, ids: readonly string[], ctx: OperationValidationContext): string[] {
  return ids.filter((id) => ctx.instance(serviceId, id)?.state !== 'HEALTHY');
}
