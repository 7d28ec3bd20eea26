import type { LocalServiceSpec } from '../../src/model/spec.js';

/**
 * Puts each message of a rejected spec beside the field it is about (the create form's field list). Schema
 * messages start with the field's path ("exposedPorts.0.port Too small ..."); the controller's rule messages are
 * sentences (src/controller/engine/validator.ts), matched here by what they say. What matches no field is shown
 * above the list, about the spec as a whole.
 */

/** The top-level fields of a spec, in the order the form lists them. */
export const SPEC_FIELDS = [
  'name',
  'version',
  'type',
  'executable',
  'exposedPorts',
  'volumes',
  'configs',
  'logging',
  'resources',
  'placementPolicy',
  'healthcheck',
  'readiness',
  'tags',
  'env',
  'args',
  'devices',
  'preShutdown',
  'hostAccess',
] as const satisfies ReadonlyArray<keyof LocalServiceSpec>;

export type SpecField = (typeof SPEC_FIELDS)[number] | 'instancesPerHost';

const RULES: Array<[RegExp, SpecField]> = [
  [/^Cpu requirements|^Memory requirements/i, 'resources'],
  [/Volume mount/i, 'volumes'],
  [/local file config/i, 'configs'],
  [/command line/i, 'args'],
  [/Device access/i, 'devices'],
  [/placement/i, 'placementPolicy'],
  [/host (network|pid|ipc)|privileged|capabilit/i, 'hostAccess'],
  [/instancesPerHost|instances per host/i, 'instancesPerHost'],
];

export interface PlacedErrors {
  byField: Partial<Record<SpecField, string[]>>;
  general: string[];
}

export function placeErrors(messages: readonly string[], spec: unknown): PlacedErrors {
  const byField: Partial<Record<SpecField, string[]>> = {};
  const general: string[] = [];
  const add = (field: SpecField, message: string) => (byField[field] ??= []).push(message);
  const known = new Set<string>([...SPEC_FIELDS, 'instancesPerHost']);
  for (const message of messages) {
    const portName = /^Invalid port name for health check: (.*?)\. Available ports/.exec(message)?.[1];
    if (portName !== undefined) {
      const checks = (['healthcheck', 'readiness'] as const).filter((f) => checkPortName(spec, f) === portName);
      for (const field of checks.length > 0 ? checks : (['healthcheck'] as const)) add(field, message);
      continue;
    }
    // "spec.exposedPorts.0.port ..." (the operation's schema) or "exposedPorts.0.port ..." (validate/spec).
    const root = /^(?:spec\.)?([A-Za-z]+)[.\s]/.exec(message)?.[1];
    if (root && known.has(root)) {
      add(root as SpecField, message);
      continue;
    }
    const rule = RULES.find(([pattern]) => pattern.test(message));
    if (rule) add(rule[1], message);
    else general.push(message);
  }
  return { byField, general };
}

function checkPortName(spec: unknown, field: 'healthcheck' | 'readiness'): string | undefined {
  const check = (spec as Record<string, { mode?: { portName?: unknown } } | undefined> | null)?.[field];
  return typeof check?.mode?.portName === 'string' ? check.mode.portName : undefined;
}
