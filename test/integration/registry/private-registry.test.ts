import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import type { RunningExecutor } from '../../../src/executor/server.js';
import { startExecutor } from '../../../src/executor/server.js';
import type { TestRegistry } from '../../support/registry.js';
import { startRegistry } from '../../support/registry.js';
import { FakeLeader, IMAGE, docker, ensureImage, executorConfigInput, itSpec, removeContainersOf, startInstance } from '../../support/executor-harness.js';

/**
 * Private registries end to end: a real registry with htpasswd auth on loopback, the test image pushed to it, and a
 * real executor pulling it through dockerd with the credentials of its `dockerAuth` config, right and wrong.
 */
let registry: TestRegistry;
let leader: FakeLeader;
let image: string;
let executor: RunningExecutor | undefined;
const logLines: string[] = [];

beforeAll(async () => {
  ensureImage();
  registry = await startRegistry();
  image = await registry.push(docker, IMAGE, 'drove-ts/httpd:1');
  leader = await new FakeLeader().start();
});
afterEach(async () => {
  if (executor) {
    await executor.stop();
    await removeContainersOf(executor.executorId);
  }
  executor = undefined;
});
afterAll(async () => {
  await removeLocalCopy().catch(() => undefined);
  await leader?.stop();
  await registry?.close();
});

/** Untags the registry's name for the image (drove-ts/httpd:1 itself stays for the other tests). */
async function removeLocalCopy(): Promise<void> {
  await docker.getImage(image).remove().catch((error: { statusCode?: number }) => {
    if (error.statusCode !== 404) throw error;
  });
}

async function hasLocalCopy(): Promise<boolean> {
  return docker.getImage(image).inspect().then(() => true, () => false);
}

async function executorWith(password: string): Promise<RunningExecutor> {
  const config = parseExecutorConfig(
    executorConfigInput(leader.url, {
      dockerAuth: { entries: { [registry.host]: { type: 'CREDENTIALS', username: registry.username, password } } },
      logLevel: 'info',
    }),
  );
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  });
  executor = await startExecutor(config, { logger: pino({ level: 'info' }, sink) });
  return executor;
}

function privateSpec() {
  return itSpec({ executable: { type: 'DOCKER', url: image, dockerPullTimeout: '60 seconds' } });
}

describe('private registry (dockerAuth)', () => {
  it('pulls the image with the right credentials: the instance becomes HEALTHY', async () => {
    await removeLocalCopy();
    expect(await hasLocalCopy()).toBe(false);
    const ex = await executorWith(registry.password);
    const spec = privateSpec();
    await startInstance(ex, spec);
    const healthy = await leader.waitForState(spec.instanceId, 'HEALTHY');
    expect(healthy.errorMessage).toBe('');
    expect(await hasLocalCopy()).toBe(true);
    expect(logLines.some((l) => l.includes('"pulling image"') && l.includes(`"dockerAuthEntry":"${registry.host}"`))).toBe(true);
    expect(JSON.stringify(leader.reports(spec.instanceId))).not.toContain(registry.password);
  });

  it("a wrong password is PROVISIONING_FAILED with the registry's 401 answer in the error message", async () => {
    await removeLocalCopy();
    const ex = await executorWith('not-the-password');
    const spec = privateSpec();
    await startInstance(ex, spec);
    const failed = await leader.waitForState(spec.instanceId, 'PROVISIONING_FAILED');
    expect(failed.errorMessage).toBe(
      `Error while pulling image ${image}: unauthorized: authentication required (registry ${registry.host} refused the credentials ` +
        `of dockerAuth entry "${registry.host}"; a local copy of the image is not used when the registry refuses them)`,
    );
    await leader.waitForState(spec.instanceId, 'STOPPED');
    expect(await hasLocalCopy()).toBe(false);
  });

  it('a wrong password is PROVISIONING_FAILED even when the image is on the host: the refusal is not hidden', async () => {
    await docker.getImage(IMAGE).tag({ repo: image.slice(0, image.lastIndexOf(':')), tag: '1' });
    expect(await hasLocalCopy()).toBe(true);
    const ex = await executorWith('not-the-password');
    const spec = privateSpec();
    await startInstance(ex, spec);
    const failed = await leader.waitForState(spec.instanceId, 'PROVISIONING_FAILED');
    expect(failed.errorMessage).toContain('unauthorized: authentication required');
    expect(await docker.listContainers({ all: true, filters: { label: [`drove.instance.id=${spec.instanceId}`] } })).toEqual([]);
  });

  it('no password reaches the executor log or any report', () => {
    const everything = `${logLines.join('')}${JSON.stringify(leader.reports())}`;
    expect(logLines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(registry.password);
    expect(everything).not.toContain('not-the-password');
  });
});
