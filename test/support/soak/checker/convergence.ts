import type { Sample } from '../sample.js';
import { STEADY, type CheckerContext } from './context.js';

/**
 * Rule not-converged, the check itself: what still differs from the desired state; [] when converged. Desired:
 * one leader; every executor listed ACTIVE; every service steady; an ACTIVE service has exactly instancesPerHost
 * HEALTHY instances and running containers on every host, a CONFIG_TESTING one exactly one cluster-wide, an
 * INACTIVE one none; no container of a service the leader does not list (destroyed, or never created).
 */
export function convergenceGaps(ctx: CheckerContext, sample: Sample): string[] {
  const view = sample.view;
  if (sample.leaders.length !== 1 || !view) return [`no single leader answering (leaders: ${sample.leaders.length})`];
  const gaps: string[] = [];
  for (const host of sample.hosts) if (!host.ok) gaps.push(`dockerd of host ${host.host + 1} does not answer`);
  ctx.executorIds.forEach((executorId, i) => {
    const listed = view.executors.find((e) => e.executorId === executorId);
    if (listed?.state !== 'ACTIVE') gaps.push(`executor of host ${i + 1} is ${listed?.state ?? 'not listed'}`);
  });
  const containers = sample.hosts.flatMap((h) => h.containers);
  for (const [serviceId, summary] of view.services) {
    if (!summary.state || !STEADY.has(summary.state)) gaps.push(`${serviceId} is ${summary.state ?? 'without a state machine'}`);
    const active = view.instances.get(serviceId) ?? [];
    const healthy = active.filter((i) => i.state === 'HEALTHY');
    const mine = containers.filter((c) => c.serviceId === serviceId);
    if (summary.activationState === 'ACTIVE') {
      ctx.executorIds.forEach((executorId, h) => {
        const n = healthy.filter((i) => i.executorId === executorId).length;
        const running = mine.filter((c) => c.host === h).length;
        if (n !== summary.instancesPerHost) gaps.push(`${serviceId}: ${n} HEALTHY on host ${h + 1}, want ${summary.instancesPerHost}`);
        if (running !== summary.instancesPerHost) gaps.push(`${serviceId}: ${running} containers on host ${h + 1}, want ${summary.instancesPerHost}`);
      });
    } else if (summary.activationState === 'CONFIG_TESTING') {
      if (healthy.length !== 1) gaps.push(`${serviceId}: ${healthy.length} HEALTHY config-test instances, want 1`);
      if (mine.length !== 1) gaps.push(`${serviceId}: ${mine.length} config-test containers, want 1`);
    } else {
      const which = active.map((i) => `${i.instanceId} ${i.state} on ${ctx.hostOf(i.executorId)}`).join(', ');
      if (active.length > 0) gaps.push(`${serviceId}: INACTIVE with ${active.length} active instances (${which})`);
      if (mine.length > 0) gaps.push(`${serviceId}: INACTIVE with ${mine.length} running containers`);
    }
  }
  const orphans = containers.filter((c) => !view.services.has(c.serviceId));
  if (orphans.length > 0) {
    gaps.push(`containers of services the leader does not list: ${orphans.map((c) => `${c.serviceId}/${c.instanceId} on host ${c.host + 1}`).join(', ')}`);
  }
  return gaps;
}
