import type { PlacementPolicy } from '../../model/index.js';

/**
 * Validator rules of a local service's `placementPolicy` (docs/design/placement.md#tag-constraints). Drove accepts only LOCAL; drove-ts also
 * accepts Drove's COMPOSITE with combiner AND of exactly one LOCAL and tag constraints. Each text names the field
 * (a path inside the spec) and the rule; the schema has already checked field types, `tag` and `policies`.
 */

/** Drove's text, for a policy that is not a local one at all. */
export const ONLY_LOCAL_PLACEMENT = 'Only local placement is allowed for local services';

const CONSTRAINT_TYPES: ReadonlySet<string> = new Set(['MATCH_TAG', 'NO_TAG', 'COMPOSITE']);

export function placementErrors(policy: PlacementPolicy | undefined): string[] {
  if (policy?.type === 'LOCAL') return [];
  if (policy?.type !== 'COMPOSITE') return [ONLY_LOCAL_PLACEMENT];
  const members = policy.policies ?? [];
  const locals = members.filter((member) => member.type === 'LOCAL').length;
  if (locals === 0) {
    // Drove's own check finds a LOCAL at any depth; say where it must be instead of "not local".
    const nested = members.flatMap((member, i) => nestedLocals(member, `placementPolicy.policies.${i}`));
    return nested.length > 0 ? nested.map(misplacedLocal) : [ONLY_LOCAL_PLACEMENT];
  }
  const errors: string[] = [];
  if (locals > 1) errors.push(`placementPolicy.policies - Only one LOCAL policy is allowed, found ${locals}`);
  if (policy.combiner === 'OR') {
    errors.push(
      'placementPolicy.combiner - The COMPOSITE that holds the LOCAL policy must combine with AND: with OR, LOCAL alone would allow every executor',
    );
  }
  members.forEach((member, i) => {
    if (member.type !== 'LOCAL') errors.push(...constraintErrors(member, `placementPolicy.policies.${i}`));
  });
  return errors;
}

/** A member beside LOCAL: MATCH_TAG, NO_TAG, or a COMPOSITE (AND or OR) of those. */
function constraintErrors(policy: PlacementPolicy, path: string): string[] {
  if (policy.type === 'LOCAL') return [misplacedLocal(path)];
  if (!CONSTRAINT_TYPES.has(policy.type)) {
    return [`${path} - ${policy.type} is not a tag constraint: a local service combines LOCAL with MATCH_TAG, NO_TAG or a COMPOSITE of them`];
  }
  if (policy.type !== 'COMPOSITE') return [];
  return (policy.policies ?? []).flatMap((member, i) => constraintErrors(member, `${path}.policies.${i}`));
}

function nestedLocals(policy: PlacementPolicy, path: string): string[] {
  if (policy.type === 'LOCAL') return [path];
  if (policy.type !== 'COMPOSITE') return [];
  return (policy.policies ?? []).flatMap((member, i) => nestedLocals(member, `${path}.policies.${i}`));
}

function misplacedLocal(path: string): string {
  return `${path} - LOCAL must be a direct member of the outermost COMPOSITE`;
}
