import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { stringify as toYaml } from 'yaml';
import { waitUntil } from './wait.js';

/**
 * Debian's Prometheus (`prometheus`, `promtool`) for the metrics tests: a real server on a free loopback port with
 * a temporary config and data directory, queried through its HTTP API, and `promtool check metrics`.
 */

const run = promisify(execFile);

export const prometheusTimings = {
  /** Prometheus 2.42 is ready in ~1 s on an idle machine (TSDB open, config load); loaded CI needs more. */
  startMs: 60_000,
  /** Scrape and discovery refresh interval of the test configs: conditions are seen within a few seconds. */
  interval: '1s',
};

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export class PrometheusServer {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
    private readonly logFile: string,
  ) {}

  /** Starts Prometheus with `scrapeConfigs` (global scrape interval 1 s); resolves once it is ready. */
  static async start(scrapeConfigs: unknown[]): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), 'drove-prometheus-'));
    const config = {
      global: { scrape_interval: prometheusTimings.interval, scrape_timeout: prometheusTimings.interval, evaluation_interval: prometheusTimings.interval },
      scrape_configs: scrapeConfigs,
    };
    writeFileSync(join(dir, 'prometheus.yml'), toYaml(config));
    await run('promtool', ['check', 'config', join(dir, 'prometheus.yml')]);
    // A port just seen free can be taken before Prometheus binds it (other tests run in parallel): try again.
    for (let attempt = 1; ; attempt++) {
      const port = await freeLoopbackPort();
      const logFile = join(dir, `prometheus-${attempt}.log`);
      const out = openSync(logFile, 'a');
      const child = spawn(
        'prometheus',
        [
          `--config.file=${join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
        ],
        { stdio: ['ignore', out, out] },
      );
      closeSync(out);
      const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, dir, logFile);
      try {
        await waitUntil(
          'Prometheus to be ready',
          async () => {
            if (child.exitCode !== null) throw new Error(`prometheus exited: ${server.output().slice(-2000)}`);
            return (await request(`${server.url}/-/ready`)).statusCode === 200;
          },
          { timeoutMs: prometheusTimings.startMs, intervalMs: 100 },
        );
        return server;
      } catch (error) {
        await server.stop();
        if (attempt < 3 && /address already in use/.test(server.output())) continue;
        throw error;
      }
    }
  }

  output(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  /** An instant PromQL query; the vector it answers. */
  async query(promql: string): Promise<PromSample[]> {
    const response = await request(`${this.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.body.json()) as { status: string; data?: { resultType: string; result: PromSample[] }; error?: string };
    if (body.status !== 'success' || body.data?.resultType !== 'vector') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
    return body.data.result;
  }

  /** The single number `promql` evaluates to, or undefined while it has no sample. */
  async scalar(promql: string): Promise<number | undefined> {
    const result = await this.query(promql);
    if (result.length > 1) throw new Error(`query ${promql} has ${result.length} samples: ${JSON.stringify(result)}`);
    return result[0] === undefined ? undefined : Number(result[0].value[1]);
  }

  /** Active targets as Prometheus sees them (discovered labels, health, last error). */
  async activeTargets(): Promise<Array<{ labels: Record<string, string>; discoveredLabels: Record<string, string>; health: string; lastError: string; scrapePool: string }>> {
    const response = await request(`${this.url}/api/v1/targets?state=active`);
    const body = (await response.body.json()) as { data: { activeTargets: Array<{ labels: Record<string, string>; discoveredLabels: Record<string, string>; health: string; lastError: string; scrapePool: string }> } };
    return body.data.activeTargets;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
  }

  /** Stops and removes the data directory. */
  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `promtool check metrics` on an exposition text: its findings (empty when it passes) and exit code. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(text);
  });
}

/** A port free on 127.0.0.1 right now (another process may take it before it is used: retry on EADDRINUSE). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
