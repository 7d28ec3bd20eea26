import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerOptionsSchema, parseControllerConfig } from '../../src/controller/config.js';
import { validateSpec } from '../../src/controller/engine/validator.js';
import { parseExecutorConfig } from '../../src/executor/config.js';
import { hostPathRefusal } from '../../src/executor/instances/host-paths.js';
import type { RunningExecutor } from '../../src/executor/server.js';
import { HOST_PATH_RULE } from '../../src/model/index.js';
import { testSpec } from '../support/specs.js';
import {
  FakeLeader,
  containerOf,
  ensureImage,
  executorConfigInput,
  itSpec,
  removeContainersOf,
  startInstance,
  startTestExecutor,
} from '../support/executor-harness.js';
import { ADMIN, startLiveController, type LiveController } from './live-controller.js';

/**
 * Findings: `/tmp/../etc` passed the allowedMountDirs prefix check on `/tmp` (and `/tmp` allowed `/tmpx`);
 * EXECUTOR_LOCAL_FILE read any file of the executor host (it runs as root); the executor, which holds the
 * Docker socket, trusted whatever host path the controller sent.
 */

const RULE = HOST_PATH_RULE;
/** The reference fixture without its host volume, plus what the test asks for. */
const validSpec = (overrides: Parameters<typeof testSpec>[0] = {}) => testSpec({ volumes: [], ...overrides });
const volume = (pathOnHost: string) => ({ volumes: [{ pathOnHost, pathInContainer: '/data', mode: 'READ_ONLY' as const }] });
const localFile = (filePathOnHost: string) => ({
  configs: [{ type: 'EXECUTOR_LOCAL_FILE' as const, localFilename: '/etc/agent.conf', filePathOnHost }],
});

describe('controller API: host paths must be absolute and normalized, inside the allow-lists on segment boundaries', () => {
  let controller: LiveController;
  beforeAll(async () => {
    controller = await startLiveController({ options: { allowedMountDirs: ['/tmp'], allowedLocalFileDirs: ['/etc/drove/files'] } });
  });
  afterAll(async () => controller?.close());

  const create = (spec: unknown) =>
    controller.call('POST', '/apis/v1/localservices/operations', ADMIN, { type: 'CREATE', spec, instancesPerHost: 1 });

  it.each(['/tmp/../etc', '/tmp/./x', '/tmp//x', '/tmp/x/', 'tmp/x', '/tmp/x:/etc:rw'])(
    'volume pathOnHost %s is a 400 naming the field, and nothing is stored',
    async (path) => {
      const response = await create(validSpec(volume(path)));
      expect(response.status).toBe(400);
      expect(response.body.data.validationErrors).toEqual([`spec.volumes.0.pathOnHost ${RULE}`]);
    },
  );

  it.each(['/etc/drove/files/../../shadow', '/etc/drove/files/./a', 'files/a'])(
    'EXECUTOR_LOCAL_FILE filePathOnHost %s is a 400 naming the field',
    async (path) => {
      const response = await create(validSpec(localFile(path)));
      expect(response.status).toBe(400);
      expect(response.body.data.validationErrors).toEqual([`spec.configs.0.filePathOnHost ${RULE}`]);
    },
  );

  it('compares on path boundaries: /tmp does not allow /tmpx, /etc/drove/files does not allow /etc/drove/filesx', async () => {
    const mount = await create(validSpec(volume('/tmpx')));
    expect(mount.status).toBe(400);
    expect(mount.body.data.validationErrors).toEqual(['Volume mount requested on non whitelisted host directory: /tmpx']);
    const file = await create(validSpec(localFile('/etc/drove/filesx/a.conf')));
    expect(file.status).toBe(400);
    expect(file.body.data.validationErrors).toEqual(['Executor local file requested from non whitelisted host directory: /etc/drove/filesx/a.conf']);
    const outside = await create(validSpec(localFile('/etc/shadow')));
    expect(outside.body.data.validationErrors).toEqual(['Executor local file requested from non whitelisted host directory: /etc/shadow']);
  });

  it('every refusal left the store unchanged; allowed paths are accepted', async () => {
    expect((await controller.call('GET', '/apis/v1/localservices', ADMIN)).body.data).toEqual({});
    for (const spec of [validSpec(volume('/tmp')), validSpec(volume('/tmp/agent')), validSpec(localFile('/etc/drove/files/a.conf'))]) {
      const valid = await controller.call('POST', '/apis/v1/localservices/validate/spec', ADMIN, spec);
      expect(valid, JSON.stringify(spec.volumes ?? spec.configs)).toMatchObject({ status: 200, body: { data: { valid: true } } });
    }
    expect((await create(validSpec({ ...volume('/tmp/agent'), ...localFile('/etc/drove/files/a.conf') }))).status).toBe(200);
  });
});

describe('controller options', () => {
  it('EXECUTOR_LOCAL_FILE is refused while allowedLocalFileDirs is empty (the default), with how to enable it', () => {
    const options = ControllerOptionsSchema.parse({});
    expect(options.allowedLocalFileDirs).toEqual([]);
    expect(validateSpec(validSpec(localFile('/etc/agent/agent.conf')), options)).toEqual([
      'Executor local file configs are disabled. To enable, list the host directories they may read in allowedLocalFileDirs in controller options: /etc/agent/agent.conf',
    ]);
    expect(validateSpec(validSpec({ configs: [{ type: 'EXECUTOR_LOCAL_FILE', localFilename: '/etc/a.conf' }] }), options)).toEqual([
      'Specify filePathOnHost for executor local file config /etc/a.conf',
    ]);
  });

  it('allow-list entries are read normalized (/tmp/ is /tmp) and must be absolute', () => {
    expect(parseControllerConfig({ options: { allowedMountDirs: ['/tmp/', '/var//lib/agents'] } }).options.allowedMountDirs).toEqual(['/tmp', '/var/lib/agents']);
    expect(() => parseControllerConfig({ options: { allowedLocalFileDirs: ['etc/agent'] } })).toThrow(
      'Invalid controller config: options.allowedLocalFileDirs.0 must be an absolute directory such as /var/lib/agents',
    );
    const executor = {
      controllers: ['http://c:1'],
      clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 'c' }, { nodeType: 'EXECUTOR', secret: 's' }] },
    };
    expect(parseExecutorConfig({ ...executor, options: { allowedMountDirs: ['/srv/'] } }).options.allowedMountDirs).toEqual(['/srv']);
    expect(parseExecutorConfig(executor).options).toMatchObject({ allowedMountDirs: [], allowedLocalFileDirs: [] });
  });
});

describe('executor: re-checks host paths against its own allow-lists before creating a container (real Docker)', () => {
  let leader: FakeLeader;
  let executor: RunningExecutor;
  const root = mkdtempSync(join(tmpdir(), 'host-paths-'));
  const mounts = join(root, 'mounts');
  const files = join(root, 'files');

  beforeAll(async () => {
    ensureImage();
    mkdirSync(join(mounts, 'agent'), { recursive: true });
    mkdirSync(files, { recursive: true });
    // A link inside an allowed directory may lead anywhere on the host.
    symlinkSync('/etc', join(mounts, 'etc-link'));
    leader = await new FakeLeader().start();
    const options = { ...executorConfigInput(leader.url).options, allowedMountDirs: [mounts], allowedLocalFileDirs: [files] };
    executor = await startTestExecutor(leader, { options });
  });
  afterAll(async () => {
    await executor?.stop();
    await removeContainersOf(executor?.executorId ?? 'none');
    await leader?.stop();
  });

  it('a host path that is not normalized never reaches an instance: the START message is answered FAILED naming the field', async () => {
    const spec = itSpec(volume(`${mounts}/../../etc`));
    const response = await startInstance(executor, spec);
    expect(response.status).toBe('FAILED');
    expect(response.message).toContain(`spec.volumes.0.pathOnHost ${RULE}`);
    expect(leader.reports(spec.instanceId)).toEqual([]);
  });

  it.each([
    ['a volume outside options.allowedMountDirs', () => volume('/etc'), () => `Volume mount refused by this executor: /etc is not under options.allowedMountDirs [${mounts}]`],
    [
      'a volume through a symlink leading outside',
      () => volume(join(mounts, 'etc-link')),
      () => `Volume mount refused by this executor: ${join(mounts, 'etc-link')} leads to /etc through a symlink, which is not under options.allowedMountDirs [${mounts}]`,
    ],
    [
      'a local file outside options.allowedLocalFileDirs',
      () => localFile('/etc/hostname'),
      () => `Executor local file refused by this executor: /etc/hostname is not under options.allowedLocalFileDirs [${files}]`,
    ],
  ])('%s: START_FAILED with the reason, no container', async (_what, overrides, reason) => {
    const spec = itSpec(overrides());
    expect(await startInstance(executor, spec)).toMatchObject({ status: 'ACCEPTED' });
    const failed = await leader.waitForState(spec.instanceId, 'START_FAILED');
    expect(failed.errorMessage).toBe(reason());
    await leader.waitForState(spec.instanceId, 'STOPPED');
    expect(await containerOf(spec.instanceId)).toBeUndefined();
  });

  it('an allowed volume starts as before', async () => {
    const spec = itSpec(volume(join(mounts, 'agent')));
    expect(await startInstance(executor, spec)).toMatchObject({ status: 'ACCEPTED' });
    await leader.waitForState(spec.instanceId, 'HEALTHY');
  });

  it('with an empty allowedLocalFileDirs (the default) no local file is read', async () => {
    const policy = { allowedMountDirs: [], allowedLocalFileDirs: [] };
    expect(await hostPathRefusal(localFile('/etc/hostname'), policy)).toBe(
      'Executor local file refused by this executor: /etc/hostname: executor local files are disabled here (options.allowedLocalFileDirs is empty)',
    );
    expect(await hostPathRefusal(volume('/etc'), policy)).toBeUndefined();
  });
});
