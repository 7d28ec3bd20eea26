import { z } from 'zod';
import { ciEnum } from './schema-helpers.js';
import { EXECUTOR_ELIGIBLE_STATES, type ActivationState, type ExecutorState } from './states.js';

/**
 * Placement policies (docs/design/placement.md#tag-constraints): Drove's polymorphic `placementPolicy` family, and what it means for a
 * local service. Drove runs a local service on every executor and accepts only LOCAL; drove-ts also accepts Drove's
 * own way of combining policies, a COMPOSITE with combiner AND of the LOCAL policy and tag constraints (MATCH_TAG,
 * NO_TAG, and COMPOSITEs of those), so that a GPU agent runs only on the executors tagged `gpu`:
 *
 *   {"type": "COMPOSITE", "combiner": "AND", "policies": [{"type": "LOCAL", "hostLevel": false}, {"type": "MATCH_TAG", "tag": "gpu"}]}
 *
 * Executors advertise their configured tags and always their hostname (Drove's `resources.tags`).
 */

export const PLACEMENT_POLICY_TYPES = [
  'ONE_PER_HOST',
  'MAX_N_PER_HOST',
  'MATCH_TAG',
  'NO_TAG',
  'RULE_BASED',
  'ANY',
  'COMPOSITE',
  'LOCAL',
] as const;
export type PlacementPolicyType = (typeof PLACEMENT_POLICY_TYPES)[number];

export const COMBINER_TYPES = ['AND', 'OR'] as const;
export type CombinerType = (typeof COMBINER_TYPES)[number];

/**
 * Levels of nesting a policy may have: LOCAL in a COMPOSITE is 2, a constraint COMPOSITE beside it 3, one more
 * inside that 4, which says everything a tag constraint can say. The bound is also what keeps a deeply nested body
 * (a megabyte of `{"policies":[{"policies":[...` is some 30 000 levels) from overflowing the parser's stack: the
 * schema below is built level by level and never recurses into anything deeper.
 */
export const MAX_PLACEMENT_DEPTH = 4;
/** A constraint names a handful of tags; the bound keeps a hostile spec from costing each reconciler pass much. */
export const MAX_COMBINED_POLICIES = 32;

/** Drove's placement policy: one object shape for every member of the family (the `type` says which). */
export interface PlacementPolicy {
  type: PlacementPolicyType;
  /** LOCAL: every container port is bound to the same port number on the host. */
  hostLevel?: boolean;
  /** MATCH_TAG: the tag an executor must have. */
  tag?: string;
  /** COMPOSITE: AND (Drove's default when absent) or OR. */
  combiner?: CombinerType;
  /** COMPOSITE: the policies combined. */
  policies?: PlacementPolicy[];
  /** Members of Drove's family we do not evaluate (MAX_N_PER_HOST's `max`, RULE_BASED's rule) pass through. */
  [field: string]: unknown;
}

function policySchema(level: number): z.ZodType<PlacementPolicy> {
  const members =
    level < MAX_PLACEMENT_DEPTH
      ? z.array(policySchema(level + 1)).max(MAX_COMBINED_POLICIES, { error: `- At most ${MAX_COMBINED_POLICIES} policies can be combined` })
      : z.array(z.unknown()).max(0, { error: `- Placement policies can be nested at most ${MAX_PLACEMENT_DEPTH} levels deep` });
  return z
    .looseObject({
      type: z.enum(PLACEMENT_POLICY_TYPES).describe('LOCAL for a local service, or COMPOSITE to add tag constraints (MATCH_TAG, NO_TAG)'),
      hostLevel: z.boolean().optional().describe('LOCAL: bind every port to the same port number on the host'),
      tag: z.string().optional().describe('MATCH_TAG: the tag an executor must have (executor config tags; the hostname is always one)'),
      combiner: ciEnum(COMBINER_TYPES).optional().describe('COMPOSITE: AND (default) or OR; the COMPOSITE that holds LOCAL combines with AND'),
      policies: members.optional().describe('COMPOSITE: the policies to combine'),
    })
    .superRefine((policy, ctx) => {
      // Drove's bean-validation messages of MatchTagPlacementPolicy and CompositePlacementPolicy.
      if (policy.type === 'MATCH_TAG' && !policy.tag) ctx.addIssue({ code: 'custom', path: ['tag'], message: '- Tag is mandatory' });
      if (policy.type === 'COMPOSITE' && (policy.policies ?? []).length === 0) {
        ctx.addIssue({ code: 'custom', path: ['policies'], message: '- Specify one or more policies to combine' });
      }
    }) as unknown as z.ZodType<PlacementPolicy>;
}

/**
 * Every member of Drove's family parses (unknown fields pass, as Jackson ignores them); which ones a local service
 * may use is the command validator's rule, with its own messages.
 */
export const PlacementPolicySchema = policySchema(1).describe(
  'Where instances may run. LOCAL: on every executor. COMPOSITE (combiner AND) of one LOCAL and tag constraints: only on the executors that satisfy them (drove-ts extension, docs/design/placement.md#tag-constraints).',
);

/** What placement reads of an executor: its tags (the hostname is always among them) and its hostname. */
export interface TaggedExecutor {
  readonly hostname: string;
  readonly tags: readonly string[];
}

/**
 * Whether a policy lets an instance run on an executor, as Drove's scheduler evaluates it: MATCH_TAG needs the tag,
 * NO_TAG needs no tag but the hostname, COMPOSITE combines (AND when no combiner is given); LOCAL and ANY allow every
 * executor. The count-based members (ONE_PER_HOST, MAX_N_PER_HOST) and RULE_BASED never reach here for a local
 * service (the validator refuses them) and constrain nothing.
 */
export function placementAllows(policy: PlacementPolicy | undefined, executor: TaggedExecutor): boolean {
  if (!policy) return true;
  switch (policy.type) {
    case 'MATCH_TAG':
      return policy.tag !== undefined && executor.tags.includes(policy.tag);
    case 'NO_TAG':
      return executor.tags.every((tag) => tag === executor.hostname);
    case 'COMPOSITE': {
      const members = policy.policies ?? [];
      return policy.combiner === 'OR'
        ? members.some((member) => placementAllows(member, executor))
        : members.every((member) => placementAllows(member, executor));
    }
    default:
      return true;
  }
}

/** An executor as placement sees it: its (effective) state and its node data's tags (the controller's records fit). */
export interface PlacementCandidate {
  readonly state: ExecutorState;
  readonly nodeData: TaggedExecutor;
}

/** An executor that may receive instances of a service with this policy: eligible state and matching tags. */
export function executorTakes(executor: PlacementCandidate, policy: PlacementPolicy | undefined): boolean {
  return EXECUTOR_ELIGIBLE_STATES.has(executor.state) && placementAllows(policy, executor.nodeData);
}

/** The LOCAL policy of a local service's placement: the policy itself, or the LOCAL member of its COMPOSITE. */
export function localPolicyOf(policy: PlacementPolicy | undefined): PlacementPolicy | undefined {
  if (policy?.type === 'LOCAL') return policy;
  if (policy?.type === 'COMPOSITE') return policy.policies?.find((member) => member.type === 'LOCAL');
  return undefined;
}

/** True when the policy narrows the executors (anything but a plain LOCAL). */
export function hasTagConstraint(policy: PlacementPolicy | undefined): boolean {
  return placementConstraintText(policy) !== undefined;
}

/**
 * The tag constraint in words (`tag gpu and (tag zone-a or tag zone-b)`), for the CLI and for messages; undefined when
 * the policy constrains nothing.
 */
export function placementConstraintText(policy: PlacementPolicy | undefined): string | undefined {
  return policy ? describe(policy)?.text : undefined;
}

/** `compound`: several parts joined by and/or, which need parentheses beside other parts. */
function describe(policy: PlacementPolicy): { text: string; compound: boolean } | undefined {
  switch (policy.type) {
    case 'MATCH_TAG':
      return { text: `tag ${policy.tag ?? ''}`, compound: false };
    case 'NO_TAG':
      return { text: 'no tag but the hostname', compound: false };
    case 'COMPOSITE': {
      const parts = (policy.policies ?? []).map(describe).filter((p) => p !== undefined);
      if (parts.length <= 1) return parts[0];
      const text = parts.map((p) => (p.compound ? `(${p.text})` : p.text)).join(policy.combiner === 'OR' ? ' or ' : ' and ');
      return { text, compound: true };
    }
    default:
      return undefined;
  }
}

/**
 * How many instances a service should have, cluster-wide: instancesPerHost on every executor that takes it when
 * ACTIVE, one when CONFIG_TESTING (if any executor takes it), none when INACTIVE. The summaries' `requiredInstances`
 * and the CLI's progress lines read it, the planner places exactly this.
 */
export function requiredInstanceCount(
  service: { activationState: ActivationState; instancesPerHost: number; spec: { placementPolicy?: PlacementPolicy | undefined } },
  executors: Iterable<PlacementCandidate>,
): number {
  let taking = 0;
  for (const executor of executors) if (executorTakes(executor, service.spec.placementPolicy)) taking++;
  switch (service.activationState) {
    case 'ACTIVE':
      return Math.max(0, service.instancesPerHost) * taking;
    case 'CONFIG_TESTING':
      return taking > 0 ? 1 : 0;
    case 'INACTIVE':
      return 0;
  }
}
