import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitUntil } from './wait.js';

/**
 * Multi-host harness: each executor "host" is a Linux network namespace with its own address on a private test
 * bridge and its own dockerd, so a host-level service can bind the same fixed port on every host, exactly as on
 * separate machines. Each dockerd also has a UTS namespace of its own whose hostname is the namespace name, so a
 * container on the host network (which gets its dockerd's hostname) names its host as on separate machines
 * (node_exporter's node_uname_info). Needs root, iproute2 and util-linux (nsenter, unshare). A test that asks for it fails loudly when namespaces cannot
 * be made; it never skips.
 *
 * Layout of slot K (one slot per harness, so concurrent test files never collide):
 *   bridge dtbrK 10.213.K.1/24 in the root namespace (the controller is reached there: `gateway`)
 *   host i: namespace dtKhI, veth dtKvI <-> eth0 10.213.K.(10+i), dockerd with --bip 10.(220+i).K.1/24,
 *           state under /tmp/drove-netns/K/hI (short: unix socket paths are limited to 108 bytes).
 * Only addresses created here are ever contacted.
 */

const run = promisify(execFile);

export const netnsOptions = {
  /** A dockerd in a fresh namespace answers in ~2 s; loaded 2-core CI machines need far more. */
  dockerStartMs: 60_000,
  /** dockerd stops its containers (10 s grace each, in parallel) before it exits on SIGTERM. */
  dockerStopMs: 30_000,
  pollMs: 200,
  /** At most this many hosts per harness (bip second octet 220+i must stay below 256). */
  maxHosts: 30,
  /** Slots 0..maxSlots-1 are tried in order; each is one /24. */
  maxSlots: 200,
  stateRoot: '/tmp/drove-netns',
};

export interface NetnsHost {
  readonly index: number;
  /** Namespace name (`ip netns` list), also a handy executor hostname label. */
  readonly name: string;
  /** The hostname of this host's dockerd, hence of its host-network containers: the namespace name. */
  readonly hostname: string;
  /** This host's address on the test bridge; every port published by its dockerd answers here. */
  readonly address: string;
  /** `unix:///...` for `docker -H` / DOCKER_HOST. */
  readonly dockerHost: string;
  readonly dockerSocket: string;
  readonly dir: string;
  /** Starts a process inside this host's network namespace (same filesystem, pids and cgroups as the test). */
  spawnInside(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs the docker CLI against this host's dockerd; resolves stdout. */
  docker(args: string[]): Promise<string>;
  /** Runs a command inside this host's network namespace to completion (e.g. iptables); resolves stdout. */
  runInside(command: string, args: string[]): Promise<string>;
  /**
   * Restarts this host's dockerd as an operator's `systemctl restart docker` would: SIGTERM (dockerd stops its
   * containers; no live-restore, so none survives), then the same dockerd again on the same state and socket.
   */
  restartDockerd(): Promise<void>;
  /** The host dies: its dockerd (and containers) are killed, its namespace and link removed. Idempotent. */
  destroy(): Promise<void>;
}

export interface NetnsCluster {
  readonly slot: number;
  /** Root-namespace address on the bridge: processes in the test's namespace listen here for the hosts. */
  readonly gateway: string;
  readonly hosts: NetnsHost[];
  /** Brings one more host up (e.g. an executor that joins later). */
  addHost(): Promise<NetnsHost>;
  close(): Promise<void>;
}

export interface NetnsClusterRequest {
  hosts: number;
  /** Images copied from the main dockerd into every host's dockerd (they have no registry access). */
  images?: string[];
}

async function sh(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(command, args, { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

async function attempt(command: string, args: string[]): Promise<boolean> {
  try {
    await run(command, args);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const bridgeName = (slot: number) => `dtbr${slot}`;
const namespaceName = (slot: number, index: number) => `dt${slot}h${index}`;
const vethName = (slot: number, index: number) => `dt${slot}v${index}`;
const slotDir = (slot: number) => join(netnsOptions.stateRoot, String(slot));

async function assertPrerequisites(): Promise<void> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('netns harness: must run as root (network namespaces, veth links and dockerd need it)');
  }
  for (const tool of ['ip', 'nsenter', 'unshare', 'hostname', 'dockerd', 'docker']) {
    if (!(await attempt('sh', ['-c', `command -v ${tool}`]))) {
      throw new Error(`netns harness: '${tool}' is missing (apt-get install -y iproute2 util-linux docker.io)`);
    }
  }
}

/** Kills what a crashed earlier run left in a slot (its dockerds, namespaces, bridge); idempotent. */
async function clearSlotLeftovers(slot: number, dir: string): Promise<void> {
  if (existsSync(dir)) {
    for (const entry of readdirSync(dir)) {
      const pidFile = join(dir, entry, 'docker.pid');
      if (!existsSync(pidFile)) continue;
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      if (pid > 0 && processAlive(pid)) await killDockerd(pid);
    }
  }
  const namespaces = await sh('ip', ['netns', 'list']);
  for (const line of namespaces.split('\n')) {
    const name = line.split(' ')[0];
    if (name && name.startsWith(`dt${slot}h`)) await attempt('ip', ['netns', 'del', name]);
  }
  await attempt('ip', ['link', 'del', bridgeName(slot)]);
}

async function killDockerd(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  try {
    await waitUntil('netns harness: dockerd to exit', () => !processAlive(pid), { timeoutMs: netnsOptions.dockerStopMs, intervalMs: netnsOptions.pollMs });
  } catch {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    await waitUntil('netns harness: dockerd to die after SIGKILL', () => !processAlive(pid), { timeoutMs: 5_000, intervalMs: netnsOptions.pollMs });
  }
}

/** Processes whose command line names a path below `dir` (its dockerd's containerd, container shims). */
export function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * A dockerd stopped while it was starting a container can leave that container's shim behind, orphaned and
 * holding the host's state directory: whatever still runs from `dir` once its dockerd is gone is killed.
 */
async function killStragglers(dir: string): Promise<void> {
  const pids = processesUnder(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  if (pids.length > 0) {
    await waitUntil('netns harness: stray processes to die after SIGKILL', () => pids.every((pid) => !processAlive(pid)), {
      timeoutMs: 5_000,
      intervalMs: netnsOptions.pollMs,
    });
  }
}

/**
 * dockerd bind-mounts its data root onto itself; when it was killed after its directory moved (a reclaimed slot)
 * the mount stays behind and blocks removal, so unmount whatever is still mounted below `dir` first.
 */
async function removeTree(dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mountPoint): mountPoint is string => !!mountPoint && mountPoint.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mountPoint of mounts) await attempt('umount', ['-l', mountPoint]);
  rmSync(dir, { recursive: true, force: true });
}

/** A slot directory whose owner died (or that never got an owner within a minute) is left over from a crash. */
function slotIsAbandoned(dir: string): boolean {
  const ownerFile = join(dir, 'owner.pid');
  if (existsSync(ownerFile)) {
    const owner = Number(readFileSync(ownerFile, 'utf8').trim());
    return !(owner > 0 && processAlive(owner));
  }
  return Date.now() - statSync(dir).mtimeMs > 60_000;
}

/**
 * Claims a free slot. `mkdir` of the slot directory is the atomic claim; a reclaimer first renames an abandoned
 * directory away (only one concurrent reclaimer can win the rename) and then clears its namespaces and links.
 */
async function claimSlot(): Promise<number> {
  mkdirSync(netnsOptions.stateRoot, { recursive: true });
  for (const entry of readdirSync(netnsOptions.stateRoot)) {
    // A reclaimer that died half-way leaves its renamed directory behind.
    const reclaimer = /^\d+\.stale\.(\d+)$/.exec(entry)?.[1];
    if (reclaimer && !processAlive(Number(reclaimer))) await removeTree(join(netnsOptions.stateRoot, entry));
  }
  for (let slot = 0; slot < netnsOptions.maxSlots; slot++) {
    const dir = slotDir(slot);
    if (existsSync(dir)) {
      if (!slotIsAbandoned(dir)) continue;
      const graveyard = `${dir}.stale.${process.pid}`;
      try {
        renameSync(dir, graveyard);
      } catch {
        continue;
      }
      await clearSlotLeftovers(slot, graveyard);
      await removeTree(graveyard);
    }
    try {
      mkdirSync(dir);
    } catch {
      continue;
    }
    writeFileSync(join(dir, 'owner.pid'), String(process.pid));
    // Links or namespaces of this slot without a directory are leftovers too (state root wiped, e.g. reboot of /tmp).
    await clearSlotLeftovers(slot, dir);
    await sh('ip', ['link', 'add', bridgeName(slot), 'type', 'bridge']);
    return slot;
  }
  throw new Error(`netns harness: no free slot among ${netnsOptions.maxSlots} (see ${netnsOptions.stateRoot})`);
}

export async function createNetnsCluster(request: NetnsClusterRequest): Promise<NetnsCluster> {
  await assertPrerequisites();
  if (request.hosts < 1 || request.hosts > netnsOptions.maxHosts) {
    throw new Error(`netns harness: hosts must be 1..${netnsOptions.maxHosts}, got ${request.hosts}`);
  }
  const slot = await claimSlot();
  const gateway = `10.213.${slot}.1`;
  const hosts: NetnsHost[] = [];
  const imagesTar = join(slotDir(slot), 'images.tar');
  let closed = false;

  const close = async () => {
    if (closed) return;
    closed = true;
    await Promise.all(hosts.map((host) => host.destroy()));
    await attempt('ip', ['link', 'del', bridgeName(slot)]);
    await removeTree(slotDir(slot));
  };

  const addHost = async (): Promise<NetnsHost> => {
    const index = hosts.length;
    if (index >= netnsOptions.maxHosts) throw new Error(`netns harness: at most ${netnsOptions.maxHosts} hosts`);
    const host = await startHost(slot, index, imagesTar, request.images ?? []);
    hosts.push(host);
    return host;
  };

  try {
    await sh('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridgeName(slot)]);
    await sh('ip', ['link', 'set', bridgeName(slot), 'up']);
    if (request.images && request.images.length > 0) {
      await sh('docker', ['save', '-o', imagesTar, ...request.images]);
    }
    // Hosts come up one after the other: `docker load` and dockerd start are disk-bound on a 2-core machine.
    for (let i = 0; i < request.hosts; i++) await addHost();
  } catch (error) {
    await close();
    throw error;
  }
  return { slot, gateway, hosts, addHost, close };
}

async function startHost(slot: number, index: number, imagesTar: string, images: string[]): Promise<NetnsHost> {
  const name = namespaceName(slot, index);
  const address = `10.213.${slot}.${10 + index}`;
  const dir = join(slotDir(slot), `h${index}`);
  const dockerSocket = join(dir, 'docker.sock');
  const dockerHost = `unix://${dockerSocket}`;
  const netnsPath = `/var/run/netns/${name}`;
  const veth = vethName(slot, index);
  mkdirSync(dir, { recursive: true });

  await sh('ip', ['netns', 'add', name]);
  await sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}n`]);
  await sh('ip', ['link', 'set', veth, 'master', bridgeName(slot), 'up']);
  await sh('ip', ['link', 'set', `${veth}n`, 'netns', name]);
  await sh('ip', ['-n', name, 'link', 'set', `${veth}n`, 'name', 'eth0']);
  await sh('ip', ['-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  await sh('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
  await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  // No default route: a host reaches only the test subnet. Anything else (e.g. a registry lookup by a pull) fails
  // at once with "network is unreachable" instead of waiting for DNS timeouts, and nothing leaves the machine.

  // nsenter --net keeps our mount namespace (cgroup mounts included); `ip netns exec` remounts /sys and dockerd
  // then fails. Never pass --bridge=none: such a dockerd deletes the main daemon's docker0. nsenter, unshare (no
  // --fork) and sh all exec, so the spawned pid is dockerd's.
  const launchDockerd = (): number => {
    const logFd = openSync(join(dir, 'dockerd.log'), 'a');
    const dockerd = spawn(
      'nsenter',
      [
        `--net=${netnsPath}`,
        'unshare', '--uts', '--',
        'sh', '-c', 'hostname "$0" && exec "$@"', name,
        'dockerd',
        '--data-root', join(dir, 'data'),
        '--exec-root', join(dir, 'exec'),
        '-H', dockerHost,
        '--pidfile', join(dir, 'docker.pid'),
        '--bip', `10.${220 + index}.${slot}.1/24`,
        '--iptables=true',
      ],
      { detached: true, stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    dockerd.unref();
    return dockerd.pid ?? 0;
  };
  let dockerdPid = launchDockerd();
  let destroyed = false;

  const docker = (args: string[]) => sh('docker', ['-H', dockerHost, ...args]);
  const waitForDockerd = () =>
    waitUntil(
      `netns harness: dockerd of ${name} to answer (see ${dir}/dockerd.log)`,
      async () => {
        if (!processAlive(dockerdPid)) {
          throw new Error(`netns harness: dockerd of ${name} exited: ${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
        }
        return attempt('docker', ['-H', dockerHost, 'info']);
      },
      { timeoutMs: netnsOptions.dockerStartMs, intervalMs: netnsOptions.pollMs, stopOnError: true },
    );
  const host: NetnsHost = {
    index,
    name,
    hostname: name,
    address,
    dockerHost,
    dockerSocket,
    dir,
    spawnInside: (command, args, options = {}) => spawn('nsenter', [`--net=${netnsPath}`, command, ...args], options),
    docker,
    runInside: (command, args) => sh('nsenter', [`--net=${netnsPath}`, command, ...args]),
    restartDockerd: async () => {
      if (destroyed) throw new Error(`netns harness: ${name} is destroyed`);
      await killDockerd(dockerdPid);
      dockerdPid = launchDockerd();
      await waitForDockerd();
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      // Containers first, with SIGKILL: dockerd would otherwise give each one a 10 s stop grace on shutdown.
      if (dockerdPid > 0 && processAlive(dockerdPid)) {
        const ids = (await docker(['ps', '-aq']).catch(() => '')).split('\n').filter(Boolean);
        if (ids.length > 0) await docker(['rm', '-f', ...ids]).catch(() => '');
        await killDockerd(dockerdPid);
      }
      await killStragglers(dir);
      await attempt('ip', ['netns', 'del', name]);
      await attempt('ip', ['link', 'del', veth]);
    },
  };

  try {
    await waitForDockerd();
    if (images.length > 0) await docker(['load', '-i', imagesTar]);
  } catch (error) {
    await host.destroy();
    throw error;
  }
  return host;
}
