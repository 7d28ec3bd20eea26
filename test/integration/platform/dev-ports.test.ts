import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { mainJs } from '../../../scripts/prepare.mjs';
import { ensureBinaryBuilt, scratchDir } from '../../support/e2e-cluster.js';

/** The usual first-start problem of `drove dev`: a port already taken. The answer names the flag that moves it. */

function occupy(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

function runDev(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, 'dev', '--data-dir', scratchDir('drove-dev-ports-'), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('drove dev with a port in use', () => {
  it('names --port when the controller port is taken', async () => {
    await ensureBinaryBuilt();
    const { server, port } = await occupy();
    try {
      const result = await runDev(['--port', String(port), '--executor-port', String(port + 1 === 65536 ? port - 1 : port + 1)]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `drove: port ${port} on 127.0.0.1 is already in use (another drove dev?); choose a free one with --port`,
      );
    } finally {
      server.close();
    }
  });

  it('names --executor-port when the executor port is taken', async () => {
    await ensureBinaryBuilt();
    const taken = await occupy();
    const free = await occupy();
    free.server.close();
    try {
      const result = await runDev(['--port', String(free.port), '--executor-port', String(taken.port)]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `drove: port ${taken.port} on 127.0.0.1 is already in use (another drove dev?); choose a free one with --executor-port`,
      );
    } finally {
      taken.server.close();
    }
  });
});
