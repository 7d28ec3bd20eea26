import { CommanderError } from 'commander';
import { DroveUnreachableError } from './client.js';

/**
 * The `drove` CLI's exit codes, one per class of outcome, so that scripts can tell "fix the command line" from
 * "the server said no" from "it was tried and did not work" from "the cluster could not be reached"
 * (docs/cli.md#exit-codes). The Python CLI exits 0 in every case.
 */
export const EXIT_CODES = {
  OK: 0,
  /** The server answered and refused: HTTP 4xx (validation, auth, not found, not the leader) or 5xx. */
  REFUSED: 1,
  /** The command line, a file it names, or ~/.drove is wrong; nothing was sent. */
  USAGE: 2,
  /** `--wait`: the operation was accepted but failed, was cancelled, or did not finish within `--timeout`. */
  FAILED: 3,
  /** No answer: connection refused, DNS, TLS, or the per-request `--http-timeout` passed. */
  UNREACHABLE: 4,
  /** `apply`: a service with this id exists with a different spec; nothing was changed. */
  SPEC_DIFFERS: 5,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** A wrong command line or input file, found before anything is sent. */
export class UsageError extends Error {}

/** A `--wait` that saw the operation fail or time out. */
export class OperationFailure extends Error {}

/** `apply` found a stored spec that differs from the file. */
export class SpecDiffers extends Error {}

/** What a failed command exits with; an error of no class listed here is a refusal by the server. */
export function exitCodeOf(error: unknown): ExitCode {
  // commander's InvalidArgumentError (a bad option or argument value) is a CommanderError.
  if (error instanceof UsageError || error instanceof CommanderError) return EXIT_CODES.USAGE;
  if (error instanceof OperationFailure) return EXIT_CODES.FAILED;
  if (error instanceof SpecDiffers) return EXIT_CODES.SPEC_DIFFERS;
  if (error instanceof DroveUnreachableError) return EXIT_CODES.UNREACHABLE;
  return EXIT_CODES.REFUSED;
}
