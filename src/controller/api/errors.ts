import {
  failure,
  JSON_FAILURE_MESSAGE,
  NOT_LEADER_MESSAGE,
  VALIDATION_FAILURE_MESSAGE,
  type ApiResponse,
} from '../../model/index.js';

/**
 * API errors are typed values carrying their HTTP status and Drove envelope; one error handler (server.ts)
 * turns them into responses, so every error contract is testable in one place.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: ApiResponse<unknown> | Record<string, unknown> | string,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === 'string' ? body : messageOf((body as { message?: unknown }).message));
    this.name = 'ApiError';
  }
}

/** The envelope's message as text; a message that is not a string is shown as JSON, not "[object Object]". */
function messageOf(message: unknown): string {
  if (message === undefined || message === null) return 'API error';
  return typeof message === 'string' ? message : JSON.stringify(message);
}

/** 400 `Command validation failure` with `validationErrors` (docs/design/api-compatibility.md#errors). */
export function commandValidationError(errors: string[]): ApiError {
  return new ApiError(400, failure(VALIDATION_FAILURE_MESSAGE, { validationErrors: errors }));
}

/** 400 `JSON validation failure`: malformed JSON, unknown `type`, wrong content type. */
export function jsonValidationError(errors: string[], statusCode = 400): ApiError {
  return new ApiError(statusCode, failure(JSON_FAILURE_MESSAGE, { validationErrors: errors }));
}

/** A plain FAILED envelope with an HTTP status (e.g. 400 cancel failure, non-leader 400, 403). */
export function failedError(statusCode: number, message: string, data?: unknown): ApiError {
  return new ApiError(statusCode, failure(message, data));
}

/** 400 "This node is not the leader controller", with the leader's address when known so clients can follow it. */
export function notLeaderError(leader: string | undefined): ApiError {
  return new ApiError(400, failure(NOT_LEADER_MESSAGE, leader ? { leader } : undefined));
}

