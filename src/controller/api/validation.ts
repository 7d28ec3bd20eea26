import type { z } from 'zod';
import { dropNulls, issueMessages } from '../../model/index.js';
import { commandValidationError, jsonValidationError } from './errors.js';

/**
 * Parses a request body with a model schema, the way Drove's Jackson + bean validation pipeline answers:
 * an unknown or missing polymorphic `type` is a JSON failure (Jackson cannot pick a subtype), any other schema
 * issue is a command-validation failure listing "<path> <message>" for each field
 * (docs/design/api-compatibility.md#errors).
 * Explicit nulls count as absent (Jackson semantics) so they are dropped first.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null) {
    throw commandValidationError(['Request body is mandatory and must be a JSON object']);
  }
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw commandValidationError([`Request body must be a JSON object, received ${Array.isArray(body) ? 'array' : typeof body}`]);
  }
  const input = dropNulls(body);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const unknownTypes = result.error.issues.filter(
    (issue) => issue.code === 'invalid_union' && (issue as { note?: string }).note === 'No matching discriminator',
  );
  if (unknownTypes.length > 0) {
    throw jsonValidationError(
      unknownTypes.map((issue) => {
        const options = ((issue as { options?: unknown[] }).options ?? []).map(String).join(', ');
        const path = issue.path.map(String).join('.');
        const value = valueAt(input, issue.path);
        return value === undefined
          ? `${path} is mandatory: missing type id, expected one of [${options}]`
          : `${path} ${JSON.stringify(value).slice(0, 100)} is not a known type id, expected one of [${options}]`;
      }),
    );
  }
  throw commandValidationError(issueMessages(result.error));
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
