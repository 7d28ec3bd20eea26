import { createColors } from 'picocolors';

/**
 * What the CLI knows about where its output goes: a terminal gets colour and a live progress display, a pipe or
 * file gets plain text, one line per change. Colour is off with NO_COLOR (https://no-color.org: set and not
 * empty) and on a dumb terminal; the live display does not depend on colour.
 */

export type Colors = ReturnType<typeof createColors>;

export interface Terminal {
  /** Output is a terminal: redraw in place, colour unless NO_COLOR. */
  readonly isTTY: boolean;
  /** Width to fit a redrawn line in (wrapped lines would break the redraw). */
  readonly columns: number;
  readonly colors: Colors;
}

export function terminalOf(stream: Pick<NodeJS.WriteStream, 'isTTY' | 'columns'>, env: NodeJS.ProcessEnv = process.env): Terminal {
  const isTTY = stream.isTTY === true;
  const noColor = env.NO_COLOR !== undefined && env.NO_COLOR !== '';
  return {
    isTTY,
    columns: isTTY && stream.columns > 0 ? stream.columns : 80,
    colors: createColors(isTTY && !noColor && env.TERM !== 'dumb'),
  };
}

/** Green for at rest and healthy, yellow on the way, red for failed, dim for history. */
export function colorState(colors: Colors, state: string): string {
  if (['HEALTHY', 'ACTIVE', 'NORMAL'].includes(state)) return colors.green(state);
  if (state.includes('FAILED') || ['UNHEALTHY', 'LOST', 'EMERGENCY_DEACTIVATION_REQUESTED', 'BLACKLISTED'].includes(state)) return colors.red(state);
  if (['STOPPED', 'INACTIVE', 'DESTROYED', 'GONE'].includes(state)) return colors.dim(state);
  return colors.yellow(state);
}
