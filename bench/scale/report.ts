import type { StoreKind } from './controller.js';
import { stepsLine, type SizeResult } from './run.js';
import { fmt } from './stats.js';

/**
 * The printed result of bench:scale: a table per store (a row per fleet size, then the growth factors between
 * rows), the goals of issue 15 met or missed at the largest size measured, and the etcd/SQLite ratio.
 */

const COLUMNS: Array<{ head: string; width: number; cell: (r: SizeResult) => string }> = [
  { head: 'executors', width: 9, cell: (r) => String(r.executors) },
  { head: 'instances', width: 9, cell: (r) => String(r.instances) },
  { head: 'register s', width: 10, cell: (r) => fmt(r.registerS) },
  { head: 'activate s', width: 10, cell: (r) => fmt(r.activateS) },
  { head: 'placed/s', width: 8, cell: (r) => fmt(r.placementsPerS, 0) },
  { head: 'restart s', width: 9, cell: (r) => fmt(r.restartS) },
  { head: 'join->START p50/p99 ms', width: 22, cell: (r) => `${fmt(r.joinP50Ms, 0)}/${fmt(r.joinP99Ms, 0)}` },
  { head: 'lost +s', width: 7, cell: (r) => fmt(r.lostDetectS) },
  { head: 'API p50/p99 ms (worst route)', width: 28, cell: (r) => apiCell(r) },
  { head: 'RSS MB', width: 6, cell: (r) => fmt(r.rssMb, 0) },
  { head: 'heap MB', width: 7, cell: (r) => fmt(r.heapMb, 0) },
  { head: 'CPU ms/hb', width: 9, cell: (r) => fmt(r.cpuMsPerHeartbeat, 3) },
];

function worstRoute(r: SizeResult) {
  return [...r.api].sort((a, b) => (b.p99Ms ?? 0) - (a.p99Ms ?? 0))[0];
}

function apiCell(r: SizeResult): string {
  const worst = worstRoute(r);
  return worst ? `${fmt(worst.p50Ms, 0)}/${fmt(worst.p99Ms, 0)} (${worst.name})` : '-';
}

const row = (cells: string[]) => cells.map((c, i) => c.padStart(COLUMNS[i]!.width)).join('  ');

/** Per-instance time of the later row over the earlier one: 1.00 is linear growth, above it worse than linear. */
function perInstanceGrowth(later: number | undefined, earlier: number | undefined, laterN: number, earlierN: number): string {
  if (later === undefined || earlier === undefined || earlier === 0) return '-';
  return `x${(later / laterN / (earlier / earlierN)).toFixed(2)}`;
}

function ratio(later: number | undefined, earlier: number | undefined): string {
  return later === undefined || earlier === undefined || earlier === 0 ? '-' : `x${(later / earlier).toFixed(2)}`;
}

export function storeTable(store: StoreKind, rows: SizeResult[]): string[] {
  const lines = [`${store === 'sqlite' ? 'SQLite' : 'etcd'} store`, row(COLUMNS.map((c) => c.head))];
  for (const r of rows) lines.push(row(COLUMNS.map((c) => c.cell(r))));
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [rows[i - 1]!, rows[i]!];
    lines.push(
      `  growth ${a.executors} -> ${b.executors} (x${(b.executors / a.executors).toFixed(1)} executors), per instance (1.00 = linear): ` +
        `activate ${perInstanceGrowth(b.activateS, a.activateS, b.instances, a.instances)}, ` +
        `restart ${perInstanceGrowth(b.restartS, a.restartS, b.instances, a.instances)}, ` +
        `RSS ${perInstanceGrowth(b.rssMb, a.rssMb, b.instances, a.instances)}; as measured: ` +
        `join p99 ${ratio(b.joinP99Ms, a.joinP99Ms)}, API p99 ${ratio(worstRoute(b)?.p99Ms, worstRoute(a)?.p99Ms)}, ` +
        `CPU/heartbeat ${ratio(b.cpuMsPerHeartbeat, a.cpuMsPerHeartbeat)}`,
    );
  }
  for (const r of rows) {
    const api = r.api.map((a) => `${a.name} ${fmt(a.p50Ms, 0)}/${fmt(a.p99Ms, 0)} ms (${a.requests} req, ${a.errors} err)`).join(', ');
    const extra = [
      api && `API ${api}`,
      r.heartbeats !== undefined && `${r.heartbeats} messages in the idle window`,
      r.killed !== undefined && `${r.killed} killed, ${r.falseLost ?? '-'} live ones removed`,
      r.joined !== undefined && `${r.joined} joined`,
      r.fds !== undefined && `controller ${r.fds} open fds (limit ${r.fdLimit})`,
      r.fleetRssMb !== undefined && `fleet RSS ${r.fleetRssMb.toFixed(0)} MB`,
      r.activateCpu !== undefined &&
        `CPU in ACTIVATE: controller ${r.activateCpu.controllerS.toFixed(0)} s, fleet ${r.activateCpu.fleetS.toFixed(0)} s over ${r.activateCpu.wallS.toFixed(0)} s (${(r.activateCpu.controllerS / r.activateCpu.wallS).toFixed(2)} + ${(r.activateCpu.fleetS / r.activateCpu.wallS).toFixed(2)} cores)`,
      r.activateSteps !== undefined && stepsLine(r.activateSteps),
      `load avg ${r.loadAvg[0].toFixed(1)} -> ${r.loadAvg[1].toFixed(1)}`,
      ...r.notes,
    ].filter(Boolean);
    lines.push(`  ${r.executors}: ${extra.join('; ')}`);
  }
  return lines;
}

interface Goal {
  name: string;
  /** The figure, its unit and whether it meets the goal; undefined when not measured. */
  check: (largest: SizeResult, all: SizeResult[]) => { value: string; met: boolean; by: string } | undefined;
}

const GOAL_SIZE = 5000;

const GOALS: Goal[] = [
  {
    name: 'ACTIVE in < 15 s (> 1,300 placements/s)',
    check: (r) => (r.activateS === undefined ? undefined : { value: `${r.activateS.toFixed(1)} s, ${(r.instances / r.activateS).toFixed(0)}/s`, met: r.activateS < 15, by: `${(r.activateS / 15).toFixed(2)}x the limit` }),
  },
  {
    name: 'growth at most linear (activate time per instance, largest / smallest size)',
    check: (r, all) => {
      const first = all.find((x) => x.activateS !== undefined);
      if (!first || first === r || r.activateS === undefined) return undefined;
      const growth = r.activateS / r.instances / (first.activateS! / first.instances);
      return { value: `x${growth.toFixed(2)} (${first.executors} -> ${r.executors})`, met: growth <= 1, by: `${growth.toFixed(2)}x linear` };
    },
  },
  {
    name: 'controller RSS < 1 GB',
    check: (r) => (r.rssMb === undefined ? undefined : { value: `${r.rssMb.toFixed(0)} MB`, met: r.rssMb < 1024, by: `${(r.rssMb / 1024).toFixed(2)}x the limit` }),
  },
  {
    name: 'API read p99 < 250 ms during the rollout (worst route)',
    check: (r) => {
      const worst = worstRoute(r)?.p99Ms;
      return worst === undefined ? undefined : { value: `${worst.toFixed(0)} ms`, met: worst < 250, by: `${(worst / 250).toFixed(2)}x the limit` };
    },
  },
  {
    name: 'join -> START p99 < 100 ms',
    check: (r) => (r.joinP99Ms === undefined ? undefined : { value: `${r.joinP99Ms.toFixed(0)} ms`, met: r.joinP99Ms < 100, by: `${(r.joinP99Ms / 100).toFixed(2)}x the limit` }),
  },
  {
    name: 'heartbeat < 0.2 ms controller CPU',
    check: (r) =>
      r.cpuMsPerHeartbeat === undefined ? undefined : { value: `${r.cpuMsPerHeartbeat.toFixed(3)} ms`, met: r.cpuMsPerHeartbeat < 0.2, by: `${(r.cpuMsPerHeartbeat / 0.2).toFixed(2)}x the limit` },
  },
];

export function goalLines(results: SizeResult[]): string[] {
  const lines: string[] = ['goals (issue 15), at the largest size measured per store:'];
  for (const store of new Set(results.map((r) => r.store))) {
    const rows = results.filter((r) => r.store === store);
    const largest = rows.at(-1)!;
    const note = largest.executors === GOAL_SIZE ? '' : ` (the goals are for ${GOAL_SIZE} executors)`;
    lines.push(`  ${store} at ${largest.executors} executors${note}:`);
    for (const goal of GOALS) {
      const outcome = goal.check(largest, rows);
      lines.push(`    ${outcome === undefined ? 'not measured' : outcome.met ? 'met   ' : 'MISSED'}  ${goal.name}${outcome ? `: ${outcome.value}${outcome.met ? '' : `, ${outcome.by}`}` : ''}`);
    }
  }
  lines.push(...etcdRatioLines(results));
  return lines;
}

/** etcd time over SQLite time for the same size: the goal is at most 2 for the rollout. */
function etcdRatioLines(results: SizeResult[]): string[] {
  const lines: string[] = [];
  for (const sqlite of results.filter((r) => r.store === 'sqlite')) {
    const etcd = results.find((r) => r.store === 'etcd' && r.executors === sqlite.executors);
    if (!etcd) continue;
    const activate = etcd.activateS !== undefined && sqlite.activateS !== undefined ? etcd.activateS / sqlite.activateS : undefined;
    const restart = etcd.restartS !== undefined && sqlite.restartS !== undefined ? etcd.restartS / sqlite.restartS : undefined;
    const verdict = activate === undefined ? 'not measured' : activate <= 2 ? 'met' : 'MISSED';
    lines.push(`  etcd/SQLite at ${sqlite.executors}: activate ${fmt(activate, 2)}, restart ${fmt(restart, 2)} (goal: rollout within 2x): ${verdict}`);
  }
  return lines;
}

export function profileLines(results: SizeResult[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    for (const p of r.profiles) {
      const per = p.per !== undefined && p.per.count > 0 ? p.per : undefined;
      const column = per?.unit === 'instances started' ? 'us/inst' : 'us/msg';
      lines.push(
        `${p.process} CPU profile ${r.store} ${r.executors}, ${p.phase}${per ? ` (${per.count} ${per.unit})` : ''}: ${p.paths.join(', ')}`,
        `  self ms  % busy${per ? `  ${column.padStart(7)}` : ''}  function`,
      );
      for (const t of p.top) {
        const us = per ? `  ${((t.selfMs * 1000) / per.count).toFixed(1).padStart(7)}` : '';
        lines.push(`  ${t.selfMs.toFixed(0).padStart(7)}  ${t.percent.toFixed(1).padStart(6)}${us}  ${t.fn}`);
      }
    }
  }
  return lines;
}
