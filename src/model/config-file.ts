import { parse, parseDocument, visit } from 'yaml';
import type { ScalarTag } from 'yaml';

/**
 * Reading a controller or executor YAML file the way Drove (Dropwizard) reads its own, so that a Drove config
 * carries over (docs/drove-config.md): `${VAR}` references are replaced from the environment, and YAML 1.1
 * integers with `_` separators (`maxOpenFiles: 10_000` in Drove's sample) are numbers. Everything else is YAML 1.2
 * as before (`yes`/`no` stay strings).
 */

export class ConfigSubstitutionError extends Error {}

/**
 * Dropwizard's strict EnvironmentVariableSubstitutor: `${NAME}` is the variable's value, `${NAME:-fallback}` the
 * fallback when it is not set, `$${NAME}` the literal text `${NAME}`. A variable that is not set and has no
 * fallback is an error naming it (Drove refuses to start the same way). Values are inserted as they are, never
 * substituted again, so a secret that contains `${` stays what it is.
 */
export function substituteEnvironment(text: string, env: Readonly<Record<string, string | undefined>>, where = ''): string {
  return text.replace(/(\$?)\$\{([^{}]*)\}/g, (match: string, escape: string, body: string) => {
    if (escape) return match.slice(1);
    const split = body.indexOf(':-');
    const name = split < 0 ? body : body.slice(0, split);
    const value = env[name];
    if (value !== undefined) return value;
    if (split >= 0) return body.slice(split + 2);
    throw new ConfigSubstitutionError(
      `environment variable ${name} is not set (${match}${where}); set it, or give a fallback: \${${name}:-value}`,
    );
  });
}

/** YAML 1.1 integers with `_` digit separators, which SnakeYAML (Drove) reads as numbers. */
const underscoredInt: ScalarTag = {
  identify: (value) => typeof value === 'number',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: /^[-+]?[0-9][0-9_]*$/,
  resolve: (text) => Number(text.replace(/_/g, '')),
};

const YAML_OPTIONS = { customTags: [underscoredInt] };

/**
 * Parses a config file, replacing `${VAR}` references in its values. Dropwizard substitutes in the raw text; here
 * it is done value by value, with the same result for every value (an unquoted `port: ${PORT}` still becomes the
 * number, `enabled: ${FLAG}` the boolean), but never inside comments (a commented-out `${SECRET}` needs no
 * variable) and never changing the file's structure (a value cannot add keys).
 */
export function parseConfigYaml(text: string, env: Readonly<Record<string, string | undefined>> = {}): unknown {
  const document = parseDocument(text, YAML_OPTIONS);
  if (document.errors.length > 0) throw document.errors[0]!;
  visit(document, {
    Scalar(_key, node) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return;
      const line = node.range ? text.slice(0, node.range[0]).split('\n').length : undefined;
      const substituted = substituteEnvironment(node.value, env, line ? ` on line ${line}` : '');
      if (node.type !== 'PLAIN') {
        node.value = substituted;
        return;
      }
      // An unquoted value is typed after substitution, as Dropwizard's text substitution lets YAML type it.
      node.value = typedScalar(substituted);
    },
  });
  return document.toJS();
}

/** A substituted unquoted value as YAML types it (number, boolean, null, text); never a list or a mapping. */
function typedScalar(text: string): unknown {
  if (text.trim() === '') return null;
  try {
    const typed: unknown = parse(text, YAML_OPTIONS);
    return typed === null || typeof typed !== 'object' ? typed : text;
  } catch {
    return text;
  }
}
