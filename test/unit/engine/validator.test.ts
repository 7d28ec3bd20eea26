import { describe, expect, it } from 'vitest';
import { validateOperation, validateSpec, type OperationValidationContext } from '../../../src/controller/engine/validator.js';
import { ControllerOptionsSchema } from '../../../src/controller/config.js';
import type { LocalServiceInfo, LocalServiceInstanceInfo, LocalServiceOperation, LocalServiceState, PlacementPolicy } from '../../../src/model/index.js';
import { testSpec } from '../../support/specs.js';
import { instanceInfo } from '../../support/records.js';

const SID = 'SomeServiceId';

function ctx(opts: {
  state?: LocalServiceState;
  hostLevel?: boolean;
  /** The stored service's placement (default LOCAL with `hostLevel`). */
  placementPolicy?: PlacementPolicy;
  instances?: Array<Pick<LocalServiceInstanceInfo, 'instanceId' | 'state'>>;
  options?: Record<string, unknown>;
  serviceId?: string;
}): OperationValidationContext {
  const serviceId = opts.serviceId ?? SID;
  const info: LocalServiceInfo | undefined =
    opts.state === undefined
      ? undefined
      : {
          serviceId,
          spec: testSpec({ placementPolicy: opts.placementPolicy ?? { type: 'LOCAL', hostLevel: opts.hostLevel ?? false } }),
          instancesPerHost: 1,
          activationState: 'INACTIVE',
          created: 0,
          updated: 0,
        };
  return {
    options: ControllerOptionsSchema.parse(opts.options ?? {}),
    stateOf: (id) => (id === serviceId ? opts.state : undefined),
    service: (id) => (id === serviceId ? info : undefined),
    instance: (sid, iid) => {
      const found = sid === serviceId ? opts.instances?.find((i) => i.instanceId === iid) : undefined;
      return found && instanceInfo({ ...found, serviceId });
    },
    services: () => (info ? [info] : []),
    pendingOperation: () => undefined,
    instances: () => [],
  };
}

const stopInstances = (ids: string[] = []): LocalServiceOperation => ({ type: 'STOP_INSTANCES', serviceId: SID, instanceIds: ids });
const create = (spec = testSpec(), instancesPerHost = 1): LocalServiceOperation => ({ type: 'CREATE', spec, instancesPerHost });

describe('command validator (Drove\'s LocalServiceCommandValidatorTest)', () => {
  it('rejects an operation on a service without a state machine', () => {
    expect(validateOperation({ type: 'DESTROY', serviceId: SID }, ctx({}))).toEqual(['No state found for local service: SomeServiceId']);
  });

  it.each([
    'INIT',
    'ACTIVATION_REQUESTED',
    'DESTROY_REQUESTED',
    'DEACTIVATION_REQUESTED',
    'ADJUSTING_INSTANCES',
    'REPLACING_INSTANCES',
    'STOPPING_INSTANCES',
    'DESTROYED',
  ] as const)('accepts nothing in %s', (state) => {
    expect(validateOperation(stopInstances(), ctx({ state }))).toEqual([`No operations allowed for SomeServiceId as it is in ${state} state`]);
  });

  it('names the allowed operations, sorted, in INACTIVE and ACTIVE', () => {
    expect(validateOperation(stopInstances(), ctx({ state: 'INACTIVE' }))).toEqual([
      'Only [ACTIVATE, ADJUST_INSTANCES, DEPLOY_TEST_INSTANCE, DESTROY, UPDATE_INSTANCE_COUNT] allowed for local service SomeServiceId as it is in INACTIVE state',
    ]);
    expect(validateOperation({ type: 'DESTROY', serviceId: SID }, ctx({ state: 'ACTIVE' }))).toEqual([
      'Only [ADJUST_INSTANCES, DEACTIVATE, REPLACE_INSTANCES, RESTART, STOP_INSTANCES, UPDATE_INSTANCE_COUNT] allowed for local service SomeServiceId as it is in ACTIVE state',
    ]);
  });

  it('accepts only DEACTIVATE during emergency deactivation', () => {
    expect(validateOperation({ type: 'DEACTIVATE', serviceId: SID }, ctx({ state: 'EMERGENCY_DEACTIVATION_REQUESTED' }))).toEqual([]);
    expect(validateOperation({ type: 'ACTIVATE', serviceId: SID }, ctx({ state: 'EMERGENCY_DEACTIVATION_REQUESTED' }))).toEqual([
      'Only [DEACTIVATE] allowed for local service SomeServiceId as it is in EMERGENCY_DEACTIVATION_REQUESTED state',
    ]);
  });

  it('accepts the INACTIVE operations', () => {
    const c = ctx({ state: 'INACTIVE' });
    for (const op of [
      { type: 'ACTIVATE', serviceId: SID },
      { type: 'ADJUST_INSTANCES', serviceId: SID },
      { type: 'DESTROY', serviceId: SID },
      { type: 'UPDATE_INSTANCE_COUNT', serviceId: SID, instancesPerHost: 2 },
    ] as LocalServiceOperation[]) {
      expect(validateOperation(op, c)).toEqual([]);
    }
  });

  it('accepts the ACTIVE operations, empty id sets included', () => {
    const c = ctx({ state: 'ACTIVE' });
    for (const op of [
      { type: 'DEACTIVATE', serviceId: SID },
      { type: 'ADJUST_INSTANCES', serviceId: SID },
      { type: 'REPLACE_INSTANCES', serviceId: SID, instanceIds: [], stopFirst: false },
      { type: 'RESTART', serviceId: SID, stopFirst: false },
      stopInstances([]),
    ] as LocalServiceOperation[]) {
      expect(validateOperation(op, c)).toEqual([]);
    }
  });

  it('accepts a valid CREATE', () => {
    expect(validateOperation(create(), ctx({}))).toEqual([]);
  });

  it('needs a service id for CREATE', () => {
    const spec = { ...testSpec(), name: undefined, version: undefined } as unknown as ReturnType<typeof testSpec>;
    expect(validateOperation(create(spec), ctx({}))).toEqual(['No local service id found in operation']);
  });

  it('refuses more than one instance per host for host-level services', () => {
    const spec = testSpec({ placementPolicy: { type: 'LOCAL', hostLevel: true } });
    expect(validateOperation(create(spec, 2), ctx({}))).toEqual(['Host level service cannot have more than one instance']);
  });

  it('refuses to create an existing service', () => {
    expect(validateOperation(create(), ctx({ state: 'ACTIVE', serviceId: 'TEST_SPEC-00001' }))).toEqual([
      'Local service TEST_SPEC-00001 already exists',
    ]);
  });

  it('checks HTTP check port names', () => {
    const base = testSpec();
    const bad = { ...base.healthcheck, mode: { ...base.healthcheck.mode, portName: 'Invalid' } } as typeof base.healthcheck;
    expect(validateOperation(create(testSpec({ healthcheck: bad })), ctx({}))).toEqual([
      'Invalid port name for health check: Invalid. Available ports: [main]',
    ]);
    expect(validateOperation(create(testSpec({ readiness: bad })), ctx({}))).toEqual([
      'Invalid port name for health check: Invalid. Available ports: [main]',
    ]);
  });

  it('requires CPU and memory', () => {
    expect(validateOperation(create(testSpec({ resources: [] })), ctx({}))).toEqual([
      'Cpu requirements are mandatory',
      'Memory requirements are mandatory',
    ]);
  });

  it('restricts host mounts to allowedMountDirs', () => {
    const options = { allowedMountDirs: ['/tmp'] };
    const volume = (pathOnHost: string, pathInContainer: string) =>
      testSpec({ volumes: [{ pathOnHost, pathInContainer, mode: 'READ_ONLY' }] });
    expect(validateOperation(create(volume('/var/log', '/var/log')), ctx({ options }))).toEqual([
      'Volume mount requested on non whitelisted host directory: /var/log',
    ]);
    expect(validateOperation(create(volume('/tmp/log', '/var/log')), ctx({ options }))).toEqual([]);
  });

  it('checks command line arguments', () => {
    expect(validateOperation(create(testSpec({ args: ['random'] })), ctx({ options: { disableCmdlArgs: true } }))).toEqual([
      'Passing command line to containers is disabled on this cluster',
    ]);
    expect(validateOperation(create(testSpec({ args: Array(1024).fill('0123456789') })), ctx({}))).toEqual([
      'Maximum combined length of command line arguments can be 2048',
    ]);
    expect(validateOperation(create(testSpec({ args: ['--port', '8000'] })), ctx({}))).toEqual([]);
  });

  it('refuses devices unless raw device access is enabled', () => {
    const spec = testSpec({ devices: [{ type: 'DIRECT', pathOnHost: '/dev/null' }] });
    expect(validateOperation(create(spec), ctx({}))).toEqual([
      'Device access is disabled. To enable, set enableRawDeviceAccess: true in controller options.',
    ]);
    expect(validateOperation(create(spec), ctx({ options: { enableRawDeviceAccess: true } }))).toEqual([]);
  });

  it('allows only local placement; a missing policy or a COMPOSITE without LOCAL is refused, not a crash', () => {
    const message = ['Only local placement is allowed for local services'];
    expect(validateOperation(create(testSpec({ placementPolicy: { type: 'ANY' } })), ctx({}))).toEqual(message);
    expect(validateOperation(create(testSpec({ placementPolicy: undefined })), ctx({}))).toEqual(message);
    const noLocal: PlacementPolicy = { type: 'COMPOSITE', policies: [{ type: 'MATCH_TAG', tag: 'gpu' }], combiner: 'AND' };
    expect(validateOperation(create(testSpec({ placementPolicy: noLocal })), ctx({}))).toEqual(message);
  });

  it('takes the host level of a COMPOSITE placement from its LOCAL member (Drove crashes there)', () => {
    const composite: PlacementPolicy = { type: 'COMPOSITE', policies: [{ type: 'LOCAL', hostLevel: true }], combiner: 'AND' };
    expect(validateOperation(create(testSpec({ placementPolicy: composite }), 2), ctx({}))).toEqual([
      'Host level service cannot have more than one instance',
    ]);
    expect(validateOperation(create(testSpec({ placementPolicy: composite }), 1), ctx({}))).toEqual([]);
    expect(
      validateOperation({ type: 'UPDATE_INSTANCE_COUNT', serviceId: SID, instancesPerHost: 1 }, ctx({ state: 'INACTIVE', placementPolicy: composite })),
    ).toEqual(['Instance count update is allowed only for services that do not have Host Level option set']);
  });

  it('lists every failing spec rule in order', () => {
    const spec = testSpec({
      resources: [],
      args: ['x'],
      devices: [{ type: 'DIRECT', pathOnHost: '/dev/null' }],
      placementPolicy: { type: 'ANY' },
    });
    expect(validateSpec(spec, ControllerOptionsSchema.parse({ disableCmdlArgs: true }))).toEqual([
      'Cpu requirements are mandatory',
      'Memory requirements are mandatory',
      'Passing command line to containers is disabled on this cluster',
      'Device access is disabled. To enable, set enableRawDeviceAccess: true in controller options.',
      'Only local placement is allowed for local services',
    ]);
  });

  it('refuses count updates for host-level services', () => {
    expect(
      validateOperation({ type: 'UPDATE_INSTANCE_COUNT', serviceId: SID, instancesPerHost: 1 }, ctx({ state: 'INACTIVE', hostLevel: true })),
    ).toEqual(['Instance count update is allowed only for services that do not have Host Level option set']);
  });

  it('replaces only healthy instances', () => {
    const replace = (ids: string[]): LocalServiceOperation => ({ type: 'REPLACE_INSTANCES', serviceId: SID, instanceIds: ids, stopFirst: false });
    const message = ['There are no replaceable healthy instances with ids: [blah]'];
    expect(validateOperation(replace(['blah']), ctx({ state: 'ACTIVE' }))).toEqual(message);
    expect(validateOperation(replace(['blah']), ctx({ state: 'ACTIVE', instances: [{ instanceId: 'blah', state: 'PROVISIONING' }] }))).toEqual(message);
    expect(validateOperation(replace(['SI-1']), ctx({ state: 'ACTIVE', instances: [{ instanceId: 'SI-1', state: 'HEALTHY' }] }))).toEqual([]);
  });

  it('stops only healthy instances', () => {
    expect(validateOperation(stopInstances(['blah']), ctx({ state: 'ACTIVE' }))).toEqual(['There are no healthy instances with ids: [blah]']);
    expect(validateOperation(stopInstances(['SI-1']), ctx({ state: 'ACTIVE', instances: [{ instanceId: 'SI-1', state: 'HEALTHY' }] }))).toEqual([]);
  });
});

describe('placement with tag constraints (docs/design/placement.md#tag-constraints)', () => {
  const LOCAL: PlacementPolicy = { type: 'LOCAL', hostLevel: false };
  const gpu: PlacementPolicy = { type: 'MATCH_TAG', tag: 'gpu' };
  const composite = (policies: PlacementPolicy[], combiner?: 'AND' | 'OR'): PlacementPolicy => ({
    type: 'COMPOSITE',
    policies,
    ...(combiner ? { combiner } : {}),
  });
  const errors = (placementPolicy: PlacementPolicy) => validateOperation(create(testSpec({ placementPolicy })), ctx({}));

  it('accepts Drove\'s COMPOSITE of LOCAL and tag constraints, with AND or no combiner', () => {
    expect(errors(composite([LOCAL, gpu], 'AND'))).toEqual([]);
    expect(errors(composite([gpu, LOCAL]))).toEqual([]);
    expect(errors(composite([LOCAL]))).toEqual([]);
    const nested = composite([LOCAL, { type: 'NO_TAG' }, composite([gpu, { type: 'MATCH_TAG', tag: 'tpu' }], 'OR')], 'AND');
    expect(errors(nested)).toEqual([]);
  });

  it('refuses OR around LOCAL, which would let LOCAL alone admit every executor', () => {
    expect(errors(composite([LOCAL, gpu], 'OR'))).toEqual([
      'placementPolicy.combiner - The COMPOSITE that holds the LOCAL policy must combine with AND: with OR, LOCAL alone would allow every executor',
    ]);
  });

  it('refuses a second LOCAL, a LOCAL inside a constraint, and members that are not tag constraints, naming each', () => {
    expect(errors(composite([LOCAL, LOCAL]))).toEqual(['placementPolicy.policies - Only one LOCAL policy is allowed, found 2']);
    expect(errors(composite([LOCAL, composite([gpu, LOCAL], 'OR')]))).toEqual([
      'placementPolicy.policies.1.policies.1 - LOCAL must be a direct member of the outermost COMPOSITE',
    ]);
    expect(errors(composite([composite([LOCAL, gpu])]))).toEqual([
      'placementPolicy.policies.0.policies.0 - LOCAL must be a direct member of the outermost COMPOSITE',
    ]);
    expect(errors(composite([LOCAL, { type: 'ANY' }, composite([{ type: 'MAX_N_PER_HOST', max: 2 }])]))).toEqual([
      'placementPolicy.policies.1 - ANY is not a tag constraint: a local service combines LOCAL with MATCH_TAG, NO_TAG or a COMPOSITE of them',
      'placementPolicy.policies.2.policies.0 - MAX_N_PER_HOST is not a tag constraint: a local service combines LOCAL with MATCH_TAG, NO_TAG or a COMPOSITE of them',
    ]);
  });

  it('keeps Drove\'s text for a policy that is not local at all, in Drove\'s place among the rules', () => {
    expect(errors(gpu)).toEqual(['Only local placement is allowed for local services']);
    expect(errors(composite([gpu, { type: 'NO_TAG' }]))).toEqual(['Only local placement is allowed for local services']);
    expect(validateSpec(testSpec({ resources: [], placementPolicy: composite([LOCAL, LOCAL]) }), ControllerOptionsSchema.parse({}))).toEqual([
      'Cpu requirements are mandatory',
      'Memory requirements are mandatory',
      'placementPolicy.policies - Only one LOCAL policy is allowed, found 2',
    ]);
  });
});
