/** How the console writes times, durations and sizes (one place, so every page reads alike). */

export function dateTime(epochMs: number | undefined): string {
  if (!epochMs) return '-';
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3d 4h", "5m 12s", "42s". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

export function memory(mb: number): string {
  if (mb >= 10 * 1024) return `${(mb / 1024).toFixed(0)} GB`;
  if (mb >= 1024) return `${(mb / 1024).toFixed(1)} GB`;
  return `${mb} MB`;
}

export function ports(localInfo: { ports: Record<string, { hostPort: number; containerPort: number; portType: string }> } | undefined): string {
  if (!localInfo) return '-';
  const entries = Object.entries(localInfo.ports);
  if (entries.length === 0) return '-';
  return entries.map(([name, p]) => `${name}:${p.hostPort}`).join(', ');
}

/** Cores and MB of an instance's resource allocations. */
export function allocation(resources: ReadonlyArray<{ type: string; cores?: Record<string, number[]>; memoryInMB?: Record<string, number> }>): string {
  let cores = 0;
  let mb = 0;
  for (const r of resources) {
    if (r.cores) for (const ids of Object.values(r.cores)) cores += ids.length;
    if (r.memoryInMB) for (const v of Object.values(r.memoryInMB)) mb += v;
  }
  return `${cores} CPU, ${memory(mb)}`;
}
