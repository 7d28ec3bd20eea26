import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UsageError } from './exit-codes.js';

/** A spec file as JSON, or YAML when it is named `.yml`/`.yaml`; unreadable or malformed is a usage error. */
export function readSpecFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`Cannot read spec file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (jsonError) {
    if (/\.ya?ml$/i.test(file)) {
      try {
        return parseYaml(text) as unknown;
      } catch (yamlError) {
        throw new UsageError(`Spec file ${file} is not valid YAML: ${(yamlError as Error).message}`);
      }
    }
    throw new UsageError(`Spec file ${file} is not valid JSON: ${(jsonError as Error).message}`);
  }
}
