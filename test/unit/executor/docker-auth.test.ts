import { describe, expect, it } from 'vitest';
import { DockerAuth, DockerAuthSchema, isCredentialRefusal, registryKey, registryOfImage } from '../../../src/executor/docker-auth.js';
import { parseExecutorConfig } from '../../../src/executor/config.js';

const base = {
  controllers: ['http://controller:10000'],
  clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 'c' }, { nodeType: 'EXECUTOR', secret: 'e' }] },
};

describe('dockerAuth: which registry an image comes from (Docker reference rules)', () => {
  it.each([
    ['nginx:1.27', 'docker.io'],
    ['prom/node-exporter:v1.8.2', 'docker.io'],
    ['docker.io/prom/node-exporter:v1', 'docker.io'],
    ['index.docker.io/library/busybox', 'docker.io'],
    ['registry.example.com/team/agent:2', 'registry.example.com'],
    ['registry.example.com:5000/team/agent@sha256:0123', 'registry.example.com:5000'],
    ['127.0.0.1:5055/drove-ts/httpd:1', '127.0.0.1:5055'],
    ['localhost/agent:1', 'localhost'],
    ['Registry.Example.com/agent:1', 'registry.example.com'],
    // Drove takes whatever comes before the first "/": "drove-ts" would be looked up for this Hub image.
    ['drove-ts/httpd:1', 'docker.io'],
  ])('%s -> %s', (image, registry) => {
    expect(registryOfImage(image)).toBe(registry);
  });

  it('entry keys may be written as docker config.json writes them', () => {
    expect(registryKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryKey('registry-1.docker.io')).toBe('docker.io');
    expect(registryKey('http://Registry.Example.com:5000')).toBe('registry.example.com:5000');
    expect(registryKey('[::1]:5000')).toBe('[::1]:5000');
    expect(registryKey('not a host')).toBeUndefined();
  });

  it('finds the credentials of the image\'s registry, with the server address docker clients send', () => {
    const auth = new DockerAuth(DockerAuthSchema.parse({
      entries: {
        'registry.example.com:5000': { type: 'CREDENTIALS', username: 'u1', password: 'p1' },
        'docker.io': { type: 'CREDENTIALS', username: 'hub', password: 'p2' },
      },
    }));
    expect(auth.credentialsFor('registry.example.com:5000/a:1')).toEqual({
      registry: 'registry.example.com:5000',
      entry: 'registry.example.com:5000',
      auth: { username: 'u1', password: 'p1', serveraddress: 'registry.example.com:5000' },
    });
    expect(auth.credentialsFor('prom/node-exporter:v1')?.auth).toEqual({ username: 'hub', password: 'p2', serveraddress: 'https://index.docker.io/v1/' });
    // Another port is another registry.
    expect(auth.credentialsFor('registry.example.com/a:1')).toBeUndefined();
    expect(auth.registries()).toEqual(['registry.example.com:5000', 'docker.io']);
  });

  it('tells refused credentials from other pull failures', () => {
    for (const refused of [
      'unauthorized: authentication required',
      'Head "https://registry-1.docker.io/v2/x/manifests/1": unauthorized: incorrect username or password',
      'denied: requested access to the resource is denied',
      'no basic auth credentials',
    ]) expect(isCredentialRefusal(refused)).toBe(true);
    for (const other of ['Get "https://r:5000/v2/": dial tcp 10.0.0.1:5000: connect: connection refused', 'manifest unknown', 'Pull timed out after 1000 ms']) {
      expect(isCredentialRefusal(other)).toBe(false);
    }
  });
});

describe("dockerAuth config: Drove's shape, strict", () => {
  it('reads entries per registry host with CREDENTIALS', () => {
    const config = parseExecutorConfig({
      ...base,
      dockerAuth: { entries: { 'registry.example.com': { type: 'CREDENTIALS', username: 'u', password: 'p' } } },
    });
    expect(config.dockerAuth?.entries['registry.example.com']).toEqual({ type: 'CREDENTIALS', username: 'u', password: 'p' });
  });

  it.each([
    [{ entries: {} }, 'dockerAuth.entries must name at least one registry'],
    [{ entries: { r: { type: 'TOKEN', username: 'u', password: 'p' } } }, 'dockerAuth.entries.r.type unsupported type "TOKEN": drove-ts, like Drove, supports only CREDENTIALS (username and password)'],
    [{ entries: { 'r.example.com': { type: 'CREDENTIALS', username: 'u', password: '' } } }, 'dockerAuth.entries.r.example.com.password must not be empty'],
    [{ entries: { 'r.example.com': { username: 'u', password: 'p' } } }, 'dockerAuth.entries.r.example.com.type is required: CREDENTIALS (username and password), the only type Drove has'],
    [{ entries: { 'r.example.com': { type: 'CREDENTIALS', username: 'u', password: 'p', email: 'x' } } }, 'unknown key "email" (at dockerAuth.entries.r.example.com)'],
    [{ entries: { 'bad host!': { type: 'CREDENTIALS', username: 'u', password: 'p' } } }, 'dockerAuth.entries.bad host! is not a registry host'],
    [
      { entries: { 'docker.io': { type: 'CREDENTIALS', username: 'u', password: 'p' }, 'https://index.docker.io/v1/': { type: 'CREDENTIALS', username: 'v', password: 'q' } } },
      'names the same registry as entry "docker.io"',
    ],
    [{ registries: {} }, 'unknown key "registries" (at dockerAuth)'],
  ])('%j -> %s', (dockerAuth, message) => {
    expect(() => parseExecutorConfig({ ...base, dockerAuth })).toThrow(message);
  });

  it('never puts a password in an error message', () => {
    let message = '';
    try {
      parseExecutorConfig({ ...base, dockerAuth: { entries: { 'r.example.com': { type: 'CREDENTIALS', username: 'u', password: 'hunter2-secret', extra: 1 } } } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('unknown key "extra"');
    expect(message).not.toContain('hunter2-secret');
  });
});
