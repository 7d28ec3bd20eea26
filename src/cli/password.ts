import { read } from 'read';
import { PASSWORD_ENV, type ClusterConnection } from './config.js';
import { UsageError } from './exit-codes.js';

/**
 * A username with no password from `-p`, DROVE_PASSWORD or the config file: asked for on the terminal, not
 * echoed (a password on the command line shows in `ps` and the shell history). Without a terminal to ask on,
 * the command stops before sending anything, saying where a password can come from, unless an auth header
 * stands in.
 */
export async function withPassword(
  connection: ClusterConnection,
  terminal: { stdin: Pick<NodeJS.ReadStream, 'isTTY'>; prompt: (question: string) => Promise<string> },
): Promise<ClusterConnection> {
  if (connection.username === undefined || connection.password !== undefined) return connection;
  if (terminal.stdin.isTTY === true) {
    return { ...connection, password: await terminal.prompt(`Password for ${connection.username} at ${connection.endpoint}: `) };
  }
  if (connection.authHeader) return connection;
  throw new UsageError(
    `No password for user ${connection.username}: set ${PASSWORD_ENV}, add \`password = ...\` to the cluster's section of ~/.drove, ` +
      'pass -p, or run on a terminal to be asked',
  );
}

/** Reads a line from the terminal without echoing it; the question goes to stderr, so stdout stays data. */
export async function promptHidden(question: string): Promise<string> {
  try {
    return await read({ prompt: question, silent: true, replace: '', input: process.stdin, output: process.stderr });
  } catch (error) {
    throw new UsageError(`No password read: ${(error as Error).message}`);
  }
}
