import { describe, expect, it } from 'vitest';
import { parseExecutorConfig } from '../../../src/executor/config.js';
import { MetadataConfigSchema, executorMetadata } from '../../../src/executor/metadata.js';

const base = {
  controllers: ['http://controller:10000'],
  clusterAuth: { secrets: [{ nodeType: 'CONTROLLER', secret: 'c' }, { nodeType: 'EXECUTOR', secret: 'e' }] },
};

describe("executor metadata (Drove's CONFIGURED and ENVIRONMENT providers)", () => {
  it('shows configured key/values and the environment variables whose whole name matches a whitelisted regex', () => {
    const config = MetadataConfigSchema.parse({
      metadataProviders: {
        placement: { type: 'CONFIGURED', metadata: { rack: 'r12', floor: 3 } },
        env: { type: 'ENVIRONMENT', whitelistedVariables: ['DC', 'NODE_.*'] },
      },
    });
    const env = { DC: 'dc1', NODE_POOL: 'gpu', NODE_CLASS: 'm5', DCX: 'no: DC must match the whole name', PATH: '/bin', UNSET: undefined };
    expect(executorMetadata(config, env)).toEqual({
      metadata: { DC: 'dc1', NODE_CLASS: 'm5', NODE_POOL: 'gpu', floor: '3', rack: 'r12' },
      leftOut: [],
    });
  });

  it("leaves out keys two providers give, blacklisted keys and values over valueMaxLimit, as Drove does, saying why", () => {
    const config = MetadataConfigSchema.parse({
      metadataProviders: {
        a: { type: 'CONFIGURED', metadata: { zone: 'z1', secretToken: 't', long: 'x'.repeat(11), ok: 'fine' } },
        b: { type: 'ENVIRONMENT', whitelistedVariables: ['zone'] },
      },
      blacklistedKeys: ['secret.*'],
      valueMaxLimit: 10,
    });
    expect(executorMetadata(config, { zone: 'z2' })).toEqual({
      metadata: { ok: 'fine' },
      leftOut: [
        { key: 'long', reason: 'value longer than valueMaxLimit (10)' },
        { key: 'secretToken', reason: 'blacklisted (resources.metadata.blacklistedKeys)' },
        { key: 'zone', reason: 'given by several providers: a, b' },
      ],
    });
  });

  it('is read from resources.metadata, where Drove has it; none by default', () => {
    expect(parseExecutorConfig(base).resources.metadata).toEqual({ metadataProviders: {}, valueMaxLimit: 1024, blacklistedKeys: [] });
    const config = parseExecutorConfig({
      ...base,
      resources: { metadata: { metadataProviders: { p: { type: 'CONFIGURED', metadata: { rack: 'r1' } } } } },
    });
    expect(executorMetadata(config.resources.metadata, {}).metadata).toEqual({ rack: 'r1' });
  });

  it.each([
    [{ p: { type: 'DYNAMIC_COMMAND', commandRerunInSecs: 60, commands: {} } }, 'resources.metadata.metadataProviders.p.type DYNAMIC_COMMAND is not supported: it runs shell commands from the config as root; use CONFIGURED or ENVIRONMENT'],
    [{ p: { type: 'LDAP' } }, 'resources.metadata.metadataProviders.p.type unsupported type "LDAP": expected one of CONFIGURED, ENVIRONMENT'],
    [{ p: { metadata: {} } }, 'resources.metadata.metadataProviders.p.type is required: one of CONFIGURED, ENVIRONMENT'],
    [{ p: { type: 'ENVIRONMENT', whitelistedVariables: [] } }, 'resources.metadata.metadataProviders.p.whitelistedVariables must name at least one variable (a regex)'],
    [{ p: { type: 'ENVIRONMENT', whitelistedVariables: ['(['] } }, 'resources.metadata.metadataProviders.p.whitelistedVariables.0 is not a valid regular expression: "(["'],
    [{ p: { type: 'CONFIGURED', metadata: {}, extra: 1 } }, 'unknown key "extra" (at resources.metadata.metadataProviders.p)'],
  ])('refuses %j naming the field and the rule', (metadataProviders, message) => {
    expect(() => parseExecutorConfig({ ...base, resources: { metadata: { metadataProviders } } })).toThrow(message);
  });
});
