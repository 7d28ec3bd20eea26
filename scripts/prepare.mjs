// Preparation steps shared by scripts/bootstrap.mjs (npm start / npm test) and the test harness
// (test/support): npm dependencies, the TypeScript build, a running Docker daemon, the offline test image.
// Plain Node with no dependencies: it must run before `npm install`.
import { spawnSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync, openSync, chmodSync, mkdirSync, utimesSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const mainJs = join(root, 'dist', 'src', 'main.js');

const timeouts = {
  /** dockerd usually answers within 2-5 s; a cold start on a slow CI disk can take much longer. */
  dockerStartMs: 90_000,
};

export function log(message) {
  process.stdout.write(`[drove] ${message}\n`);
}

export class PrepareError extends Error {}

/** Runs a command with inherited stdio; throws PrepareError naming the command when it fails. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw new PrepareError(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new PrepareError(`${command} ${args.join(' ')} failed with exit code ${result.status ?? result.signal}`);
  }
}

/** Runs a command quietly and reports whether it succeeded. */
export function succeeds(command, args) {
  const result = spawnSync(command, args, { stdio: 'ignore', cwd: root });
  return !result.error && result.status === 0;
}

function sha256(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

// ---------------------------------------------------------------- npm dependencies

const lockStamp = join(root, 'node_modules', '.drove-package-lock.sha256');

/**
 * `npm ci` when node_modules is missing; `npm install` when package-lock.json changed since the last install.
 * Never `npm ci` over an existing node_modules: it deletes the directory first, which would pull it from under
 * anything else running from this checkout (tests, a dev cluster) for the minutes the install takes.
 */
export function ensureDependencies() {
  const lockFile = join(root, 'package-lock.json');
  const hasLock = existsSync(lockFile);
  const wanted = hasLock ? sha256(lockFile) : sha256(join(root, 'package.json'));
  const installed = existsSync(lockStamp) ? readFileSync(lockStamp, 'utf8').trim() : undefined;
  if (existsSync(join(root, 'node_modules')) && installed === wanted) return;
  if (existsSync(join(root, 'node_modules')) && installed === undefined && hasLock && lockMatchesInstalled()) {
    writeFileSync(lockStamp, wanted);
    return;
  }
  const fresh = !existsSync(join(root, 'node_modules'));
  const args = hasLock && fresh ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
  log(`installing npm dependencies: npm ${args[0]}`);
  run(npmCommand(), args);
  writeFileSync(lockStamp, wanted);
}

/**
 * node_modules made by an earlier `npm install` (before we stamped it): npm records what it installed in
 * node_modules/.package-lock.json; trust it when it is newer than package-lock.json.
 */
function lockMatchesInstalled() {
  const hidden = join(root, 'node_modules', '.package-lock.json');
  return existsSync(hidden) && statSync(hidden).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs;
}

function npmCommand() {
  return process.platform === 'win32' ? 'npm.cmd' : 'npm';
}

// ---------------------------------------------------------------- TypeScript build

// bench/ imports test/support, so the build reads it too; the web console (ui/) imports src/model.
const buildInputs = ['src', 'bench', join('test', 'support'), 'ui', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

const buildStamp = join(root, 'dist', '.build-stamp');

/** True when dist/ is missing or some source is newer than the last successful build. */
export function buildIsStale() {
  if (!existsSync(mainJs) || !existsSync(buildStamp)) return true;
  const built = statSync(buildStamp).mtimeMs;
  return buildInputs.some((input) => newestMtime(join(root, input)) > built);
}

/**
 * The web console's production bundle (ui/vite.config.ts: into dist/ui unless `outDir` says otherwise), whoever
 * asks: vitest sets NODE_ENV=test, under which Vite builds JSX's development runtime in (every element carrying
 * its source file's path on this machine), so the tests would drive, and the budget would measure, another
 * console than `npm run build` ships.
 */
export function buildConsole({ outDir } = {}) {
  const args = [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', join('ui', 'vite.config.ts')];
  if (outDir) args.push('--outDir', outDir, '--emptyOutDir');
  run(process.execPath, args, { env: { ...process.env, NODE_ENV: 'production' } });
}

/**
 * `npm run build` when sources are newer than dist: tsc, then the web console (Vite, ui/vite.config.ts, which
 * prints the bundle size and fails above its budget); keeps the binary executable.
 */
export function ensureBuild({ force = false } = {}) {
  if (!force && !buildIsStale()) return;
  log('building: tsc -p tsconfig.build.json');
  const startedAt = Date.now();
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
  log('building the web console: vite build --config ui/vite.config.ts');
  buildConsole();
  chmodSync(mainJs, 0o755);
  mkdirSync(dirname(buildStamp), { recursive: true });
  // The stamp records when the sources were read, so an edit made during the build triggers the next one.
  const stampTime = new Date(startedAt);
  writeFileSync(buildStamp, stampTime.toISOString());
  utimesSync(buildStamp, stampTime, stampTime);
}

// ---------------------------------------------------------------- checks before the tests

/**
 * What `npm test` runs before vitest: the type-check of everything TypeScript (tsconfig.json: src, bench, test,
 * the scripts' types; the build compiles only src and bench) and the linter, which allows no warning.
 */
export const checks = [
  { name: 'type-check', tool: 'tsc', script: join('node_modules', 'typescript', 'bin', 'tsc'), args: ['-p', 'tsconfig.json'] },
  // The web console is browser code (DOM, JSX): its own tsconfig.
  { name: 'type-check (web console)', tool: 'tsc', script: join('node_modules', 'typescript', 'bin', 'tsc'), args: ['-p', join('ui', 'tsconfig.json')] },
  { name: 'lint', tool: 'eslint', script: join('node_modules', 'eslint', 'bin', 'eslint.js'), args: ['--max-warnings', '0', '.'] },
];

/** Runs every check in order; throws PrepareError naming the first that fails. */
export function runChecks() {
  for (const check of checks) {
    log(`${check.name}: ${check.tool} ${check.args.join(' ')}`);
    run(process.execPath, [join(root, check.script), ...check.args]);
  }
}

// ---------------------------------------------------------------- Docker and debian packages

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function isDebianLike() {
  return existsSync('/etc/debian_version') && existsSync('/usr/bin/apt-get');
}

let aptUpdated = false;

/** Installs a debian package when we are root on Debian/Ubuntu; otherwise says exactly what to run. */
export function aptInstall(pkg, reason) {
  if (!isRoot() || !isDebianLike()) {
    throw new PrepareError(`${reason}. Install it with:\n    sudo apt-get install -y ${pkg}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log('apt-get update');
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  log(`${reason}: apt-get install -y ${pkg}`);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { env });
}

function hasCommand(name) {
  return succeeds('sh', ['-c', `command -v ${name}`]);
}

export function dockerIsUp() {
  return succeeds('docker', ['info']);
}

const dockerdLog = process.env.DROVE_DOCKERD_LOG ?? '/var/log/drove-dockerd.log';

/**
 * A reachable Docker daemon. As root on Debian/Ubuntu we install docker.io and start dockerd ourselves
 * (a fresh CI machine has no init system running it); anywhere else we stop with the command to run.
 */
export async function ensureDocker() {
  if (dockerIsUp()) return;
  if (!isRoot() || !isDebianLike()) {
    const hint = hasCommand('docker')
      ? 'start it (e.g. `sudo systemctl start docker`) and make sure your user may use it (`sudo usermod -aG docker $USER`, then log in again)'
      : 'install and start it: `sudo apt-get install -y docker.io && sudo systemctl start docker`';
    throw new PrepareError(`Docker is not reachable (\`docker info\` failed). Please ${hint}.`);
  }
  log('`docker info` failed: no Docker daemon answers; setting one up (root on Debian/Ubuntu)');
  if (!hasCommand('dockerd')) aptInstall('docker.io', 'Docker is not installed');
  if (dockerIsUp()) return; // the package's init script may have started it
  log(`starting dockerd in the background (log: ${dockerdLog})`);
  const out = openSync(dockerdLog, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  const deadline = Date.now() + timeouts.dockerStartMs;
  while (Date.now() < deadline) {
    if (dockerIsUp()) {
      log('dockerd is up');
      return;
    }
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new PrepareError(`dockerd did not come up within ${timeouts.dockerStartMs / 1000} s; see ${dockerdLog}`);
}

function staticBusyboxPresent() {
  for (const candidate of ['/bin/busybox', '/usr/bin/busybox']) {
    if (!existsSync(candidate)) continue;
    const ldd = spawnSync('ldd', [candidate], { encoding: 'utf8' });
    const text = `${ldd.stdout ?? ''}${ldd.stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(text)) return true;
  }
  return false;
}

/**
 * Builds drove-ts/httpd:1 and drove-ts/node-exporter:1 (scripts/images.sh; they need a static busybox and Debian's
 * prometheus-node-exporter). Up to date images are left alone.
 */
export function ensureImages() {
  if (!staticBusyboxPresent()) aptInstall('busybox-static', 'the test image needs a static busybox');
  if (!existsSync('/usr/bin/prometheus-node-exporter')) {
    aptInstall('prometheus-node-exporter', 'the node_exporter image needs the prometheus-node-exporter package');
  }
  log('images: bash scripts/images.sh');
  run('bash', [join(root, 'scripts', 'images.sh')]);
}

/**
 * The `docker-registry` binary (Debian's docker-registry package) that the private-registry tests start on
 * loopback (test/support/registry.ts). Installed when we are root on Debian/Ubuntu; otherwise the command to run.
 */
export function ensureRegistry() {
  if (hasCommand('docker-registry')) return;
  aptInstall('docker-registry', 'the private-registry tests need a Docker registry');
}

/** Debian's Chromium, which the web console's browser tests drive (test/browser); no browser is downloaded. */
export const chromiumPath = '/usr/bin/chromium';

export function ensureChromium() {
  if (existsSync(chromiumPath)) return;
  aptInstall('chromium', "the web console's browser tests need Chromium");
}

/**
 * Debian's prometheus package: the metrics tests run `promtool check metrics` and start a Prometheus server on
 * loopback (test/support/prometheus.ts). No service is started (there is no init system to start one).
 */
export function ensurePrometheus() {
  if (hasCommand('prometheus') && hasCommand('promtool')) return;
  aptInstall('prometheus', 'the metrics tests need promtool and a Prometheus server');
}
