import { colorState, type Terminal } from '../terminal.js';
import { describeFailure, type Failure, type Progress } from './goal.js';

/**
 * How `--wait` shows progress: on a terminal a few lines redrawn in place (state, hosts done / total, healthy /
 * desired, failures with their reason, elapsed time); anywhere else one plain line per change, so that a log or
 * a CI job reads as a history.
 */

export interface WaitView {
  serviceId: string;
  /** The command, e.g. `activate`. */
  operation: string;
  elapsedMs: number;
  progress: Progress;
  /** A remark on the watch itself, e.g. that the controller did not answer the last look. */
  note?: string;
}

export interface ProgressDisplay {
  show(view: WaitView): void;
  /** Leaves the last frame on screen; what is printed next goes below it. */
  close(): void;
}

export interface Output {
  write(text: string): void;
}

export function progressDisplay(out: Output, terminal: Terminal): ProgressDisplay {
  return terminal.isTTY ? new LiveDisplay(out, terminal) : new LineDisplay(out);
}

export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

/** `ADJUSTING_INSTANCES, hosts 1/3, healthy 2/6`: the state and the counts the goal has, in a fixed order. */
export function describeProgress(progress: Progress, withWaiting = false): string {
  const parts: string[] = [progress.state];
  if (progress.hosts) parts.push(`hosts ${progress.hosts.done}/${progress.hosts.total}`);
  if (progress.healthy) parts.push(`healthy ${progress.healthy.count}/${progress.healthy.desired}`);
  if (progress.remaining !== undefined) parts.push(`targeted instances left ${progress.remaining}`);
  const waiting = withWaiting && progress.hosts && progress.hosts.waitingOn.length > 0 ? `; waiting on ${progress.hosts.waitingOn.join(', ')}` : '';
  return parts.join(', ') + waiting;
}

class LineDisplay implements ProgressDisplay {
  private last = '';
  private failuresShown = 0;

  constructor(private readonly out: Output) {}

  show(view: WaitView): void {
    const at = `[${formatElapsed(view.elapsedMs).padStart(6)}]`;
    const line = `${view.serviceId} ${describeProgress(view.progress)}${view.note ? ` (${view.note})` : ''}`;
    if (line !== this.last) {
      this.out.write(`${at} ${line}\n`);
      this.last = line;
    }
    for (const failure of view.progress.failures.slice(this.failuresShown)) this.out.write(`${at} failed: ${describeFailure(failure)}\n`);
    this.failuresShown = view.progress.failures.length;
  }

  close(): void {}
}

/** How many failures the live display lists; more are counted. */
const SHOWN_FAILURES = 5;

class LiveDisplay implements ProgressDisplay {
  private lines = 0;

  constructor(
    private readonly out: Output,
    private readonly terminal: Terminal,
  ) {}

  show(view: WaitView): void {
    const c = this.terminal.colors;
    const { progress } = view;
    const frame = [`${c.bold(view.serviceId)} ${view.operation}: ${colorState(c, progress.state)}  ${c.dim(formatElapsed(view.elapsedMs))}`];
    if (progress.hosts) {
      const waiting = progress.hosts.waitingOn.length > 0 ? c.dim(`  waiting on ${progress.hosts.waitingOn.join(', ')}`) : '';
      frame.push(`  hosts      ${progress.hosts.done}/${progress.hosts.total} done${waiting}`);
    }
    if (progress.healthy) frame.push(`  instances  ${progress.healthy.count}/${progress.healthy.desired} healthy`);
    if (progress.remaining !== undefined) frame.push(`  targeted   ${progress.remaining} left`);
    frame.push(...failureLines(progress.failures, (text) => c.red(text)));
    if (view.note) frame.push(c.yellow(`  ${view.note}`));
    // Cursor up over the last frame, to its first column, clear to the end of the screen, draw the new one.
    const redraw = this.lines > 0 ? `\x1b[${this.lines}A\r\x1b[J` : '';
    this.out.write(redraw + frame.map((line) => fit(line, this.terminal.columns)).join('\n') + '\n');
    this.lines = frame.length;
  }

  close(): void {
    this.lines = 0;
  }
}

function failureLines(failures: readonly Failure[], red: (text: string) => string): string[] {
  if (failures.length === 0) return [];
  const lines = failures.slice(-SHOWN_FAILURES).map((f) => `  ${red('failed')}     ${describeFailure(f)}`);
  if (failures.length > SHOWN_FAILURES) lines.unshift(`  ${red('failed')}     ${failures.length} instances, the last ${SHOWN_FAILURES}:`);
  return lines;
}

/**
 * Cuts a line to the terminal's width (one column spare: writing the last column wraps on some terminals), not
 * counting colour sequences, which take no room.
 */
export function fit(line: string, columns: number): string {
  const room = Math.max(10, columns - 1);
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '\x1b') {
      const end = line.indexOf('m', i);
      if (end > i) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible === room) {
      // Keep the closing colour sequences, drop the text.
      continue;
    }
    out += line[i];
    visible++;
  }
  return out;
}
