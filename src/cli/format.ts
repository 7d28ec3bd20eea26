/**
 * Output formatting matching the Python drove CLI: `tabulate`'s "simple" tables, 30-column key/value dumps,
 * dates as `%d/%m/%Y, %H:%M:%S` in local time, Python-style list reprs.
 */

export type Cell = string | number | boolean | null | undefined;

/**
 * tabulate(rows, headers) in the "simple" format: numeric columns right-aligned, min width = header + 2.
 * `style` colours a cell's text (not its padding, so widths and trailing-space trimming stay exact).
 */
export function table(headers: readonly string[], rows: readonly Cell[][], options: { style?: (text: string, column: number) => string } = {}): string {
  const numeric = headers.map(
    (_, c) => rows.length > 0 && rows.every((row) => typeof row[c] === 'number' || row[c] === undefined || row[c] === null),
  );
  const text = rows.map((row) => headers.map((_, c) => cellText(row[c])));
  const widths = headers.map((h, c) => Math.max(h.length + 2, ...text.map((row) => row[c]!.length)));
  const pad = (value: string, c: number, styled = value) => {
    const room = ' '.repeat(widths[c]! - value.length);
    return numeric[c] ? room + styled : styled + room;
  };
  const style = options.style ?? ((value: string) => value);
  const lines = [
    headers.map((h, c) => pad(h, c)).join('  '),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...text.map((row) => row.map((v, c) => pad(v, c, v === '' ? v : style(v, c))).join('  ')),
  ];
  return lines.map((line) => line.trimEnd()).join('\n');
}

function cellText(value: Cell): string {
  if (value === undefined || value === null) return '';
  return String(value);
}

/** `%d/%m/%Y, %H:%M:%S` in the local time zone; non-numbers print as they are. */
export function formatDate(epochMs: unknown): string {
  if (typeof epochMs !== 'number' || !Number.isFinite(epochMs)) return epochMs === undefined ? '' : plainText(epochMs);
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getDate())}/${p(d.getMonth() + 1)}/${d.getFullYear()}, ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Python's `{:,}`. */
export function thousands(n: number): string {
  return Math.trunc(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Python `repr` of a list of scalars: `['a', 'b']`, `[1, 2]`. */
export function pyList(values: readonly unknown[]): string {
  return `[${values.map((v) => (typeof v === 'string' ? `'${v}'` : pyScalar(v))).join(', ')}]`;
}

function pyScalar(value: unknown): string {
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (value === null || value === undefined) return 'None';
  return plainText(value);
}

/** A JSON value as text: strings as they are, anything else as JSON (an object never prints "[object Object]"). */
function plainText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
}

/**
 * The Python CLI's key/value dump: keys left-justified to 30 columns; a non-empty object nests with 4 more
 * spaces of indent, an empty one prints `{}`; a list of objects prints item by item; other lists as a repr.
 */
export function keyValues(data: Record<string, unknown>, indent = 0): string {
  const lines: string[] = [];
  const prefix = ' '.repeat(indent);
  for (const [key, value] of Object.entries(data)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      if (Object.keys(value).length === 0) {
        lines.push(`${prefix}${key.padEnd(30)}{}`);
      } else {
        lines.push(`${prefix}${key}`);
        lines.push(keyValues(value as Record<string, unknown>, indent + 4));
      }
    } else if (Array.isArray(value) && value.length > 0 && value.every((v) => v !== null && typeof v === 'object' && !Array.isArray(v))) {
      lines.push(`${prefix}${key}`);
      for (const item of value) lines.push(keyValues(item as Record<string, unknown>, indent + 4));
    } else if (Array.isArray(value)) {
      lines.push(`${prefix}${key.padEnd(30)}${pyList(value)}`);
    } else {
      lines.push(`${prefix}${key.padEnd(30)}${typeof value === 'string' ? value : pyScalar(value)}`);
    }
  }
  return lines.map((l) => l.trimEnd()).join('\n');
}

/** Sorts rows by one column (raw values, so dates sort by time), optionally reversed. */
export function sortRows<T>(rows: T[], key: (row: T) => unknown, reverse: boolean): T[] {
  const sorted = [...rows].sort((a, b) => compare(key(a), key(b)));
  return reverse ? sorted.reverse() : sorted;
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return plainText(a ?? '').localeCompare(plainText(b ?? ''));
}

/** Text state markers of the Python CLI's `describe` output. */
export function stateMarker(state: unknown): string {
  const s = plainText(state ?? '');
  if (['HEALTHY', 'RUNNING', 'ACTIVE'].includes(s)) return '[OK]';
  if (['PENDING', 'STARTING', 'PROVISIONING'].includes(s)) return '[..]';
  if (['STOPPED', 'STOPPING', 'DEPROVISIONING'].includes(s)) return '[--]';
  if (s.includes('FAILED') || ['UNHEALTHY', 'LOST'].includes(s)) return '[!!]';
  return '[??]';
}

/** Python's `json.dumps` spacing for a flat object: `{"A": "x", "B": 3}`. */
export function pyJsonDumps(value: Record<string, unknown>): string {
  return `{${Object.entries(value)
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ')}}`;
}
