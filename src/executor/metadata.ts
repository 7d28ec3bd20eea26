import { z } from 'zod';
import { strict } from '../model/index.js';

/**
 * Executor metadata: key/values shown in the executor's node data (`metadata`, in the controller's executor
 * APIs), as Drove's executor config `resources.metadata` gives them. Two of Drove's providers:
 *   CONFIGURED   key/values written in the config (rack, zone, hardware class);
 *   ENVIRONMENT  the executor's environment variables whose names match one of `whitelistedVariables` (regexes).
 * Drove's third, DYNAMIC_COMMAND, runs shell commands from the config as root on a timer; it is refused.
 */

const DROVE_PROVIDER_TYPES = ['CONFIGURED', 'ENVIRONMENT'] as const;

const regex = z.string().min(1).refine(
  (pattern) => {
    try {
      new RegExp(pattern);
      return true;
    } catch {
      return false;
    }
  },
  { error: (issue) => `is not a valid regular expression: ${JSON.stringify(issue.input)}` },
);

/** Jackson reads any YAML scalar into a Map<String, String>: `floor: 3` is "3". */
const scalarText = z.union([z.string(), z.number(), z.boolean()]).transform(String);

const ConfiguredProviderSchema = strict.object({
  type: z.literal('CONFIGURED'),
  metadata: z.record(z.string(), scalarText),
});

const EnvironmentProviderSchema = strict.object({
  type: z.literal('ENVIRONMENT'),
  /** Names of variables to show, each a regex matching the whole name (`DC`, `NODE_.*`). */
  whitelistedVariables: z.array(regex).min(1, { error: 'must name at least one variable (a regex)' }),
});

const ProviderSchema = z.discriminatedUnion('type', [ConfiguredProviderSchema, EnvironmentProviderSchema], {
  error: (issue) => {
    if (issue.code !== 'invalid_union') return undefined;
    const type = (issue.input as { type?: unknown } | undefined)?.type;
    if (type === 'DYNAMIC_COMMAND') return 'DYNAMIC_COMMAND is not supported: it runs shell commands from the config as root; use CONFIGURED or ENVIRONMENT';
    return type === undefined
      ? `is required: one of ${DROVE_PROVIDER_TYPES.join(', ')}`
      : `unsupported type ${JSON.stringify(type)}: expected one of ${DROVE_PROVIDER_TYPES.join(', ')}`;
  },
});

export const MetadataConfigSchema = strict.object({
  /** Provider name -> provider (the name only labels it in logs, as in Drove). */
  metadataProviders: z.record(z.string(), ProviderSchema).default({}),
  /** Longer values are left out (Drove's default: 1024 characters). */
  valueMaxLimit: z.number().int().min(1).default(1024),
  /** Keys never shown, each a regex matching the whole key. */
  blacklistedKeys: z.array(regex).default([]),
});
export type MetadataConfig = z.infer<typeof MetadataConfigSchema>;

export interface LeftOut {
  key: string;
  reason: string;
}

function matchesWhole(patterns: readonly string[]): (name: string) => boolean {
  const compiled = patterns.map((p) => new RegExp(`^(?:${p})$`));
  return (name) => compiled.some((r) => r.test(name));
}

/**
 * The metadata shown, and the keys left out with why, by Drove's rules: a key that two providers give is left out
 * (which one is meant cannot be known), as are blacklisted keys and values over `valueMaxLimit`. Read once at start:
 * the configuration and the process environment do not change while the executor runs.
 */
export function executorMetadata(
  config: MetadataConfig,
  env: Readonly<Record<string, string | undefined>>,
): { metadata: Record<string, string>; leftOut: LeftOut[] } {
  const given = new Map<string, Array<{ provider: string; value: string }>>();
  for (const [provider, spec] of Object.entries(config.metadataProviders)) {
    const pairs =
      spec.type === 'CONFIGURED'
        ? Object.entries(spec.metadata)
        : Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && matchesWhole(spec.whitelistedVariables)(e[0]));
    for (const [key, value] of pairs) given.set(key, [...(given.get(key) ?? []), { provider, value }]);
  }
  const blacklisted = matchesWhole(config.blacklistedKeys);
  const metadata: Record<string, string> = {};
  const leftOut: LeftOut[] = [];
  for (const [key, sources] of [...given.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (sources.length > 1) leftOut.push({ key, reason: `given by several providers: ${sources.map((s) => s.provider).join(', ')}` });
    else if (blacklisted(key)) leftOut.push({ key, reason: 'blacklisted (resources.metadata.blacklistedKeys)' });
    else if (sources[0]!.value.length > config.valueMaxLimit) leftOut.push({ key, reason: `value longer than valueMaxLimit (${config.valueMaxLimit})` });
    else metadata[key] = sources[0]!.value;
  }
  return { metadata, leftOut };
}
