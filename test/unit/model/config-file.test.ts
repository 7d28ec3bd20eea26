import { describe, expect, it } from 'vitest';
import { ConfigSubstitutionError, parseConfigYaml, substituteEnvironment } from '../../../src/model/config-file.js';

describe('config files read as Drove (Dropwizard) reads its own', () => {
  const env = { DROVE_SECRET: 's3cret', EMPTY: '', PORT: '4000', FLAG: 'true' };

  it('replaces ${VAR} from the environment, ${VAR:-fallback} when it is not set, and keeps $${VAR} literal', () => {
    expect(substituteEnvironment('${DROVE_SECRET}:${PORT}', env)).toBe('s3cret:4000');
    expect(substituteEnvironment('${ZONE:-zone-a}', env)).toBe('zone-a');
    // Set but empty is set: the fallback is for variables that are not set.
    expect(substituteEnvironment('${EMPTY:-fallback}', env)).toBe('');
    expect(substituteEnvironment('$${DROVE_SECRET}', env)).toBe('${DROVE_SECRET}');
  });

  it('inserts values as they are: a value holding ${...} is not substituted again', () => {
    expect(substituteEnvironment('${V}', { V: '${DROVE_SECRET}' })).toBe('${DROVE_SECRET}');
  });

  it('types an unquoted value after substitution, as YAML types the substituted text in Dropwizard', () => {
    expect(parseConfigYaml('port: ${PORT}\nenabled: ${FLAG}\nsecret: ${DROVE_SECRET}\nquoted: "${PORT}"\nurl: http://h:${PORT}\n', env)).toEqual({
      port: 4000,
      enabled: true,
      secret: 's3cret',
      quoted: '4000',
      url: 'http://h:4000',
    });
  });

  it('never substitutes inside comments, and a value cannot change the structure', () => {
    expect(parseConfigYaml('# password: ${NOT_SET_ANYWHERE}\na: 1 # ${ALSO_NOT_SET}\n', env)).toEqual({ a: 1 });
    expect(parseConfigYaml('a: ${V}\n', { V: 'x\nb: injected' })).toEqual({ a: 'x\nb: injected' });
    expect(parseConfigYaml('a: ${V}\n', { V: '[1, 2]' })).toEqual({ a: '[1, 2]' });
  });

  it('a variable that is not set and has no fallback is an error naming it and its line (Dropwizard is strict too)', () => {
    expect(() => parseConfigYaml('a: 1\nsecret: ${MISSING_SECRET}\n', env)).toThrow(ConfigSubstitutionError);
    expect(() => parseConfigYaml('a: 1\nsecret: ${MISSING_SECRET}\n', env)).toThrow(
      'environment variable MISSING_SECRET is not set (${MISSING_SECRET} on line 2); set it, or give a fallback: ${MISSING_SECRET:-value}',
    );
  });

  it('reads YAML 1.1 integers with _ separators (Drove sample: maxOpenFiles: 10_000), and nothing else changes', () => {
    expect(parseConfigYaml('a: 10_000\nb: 12\nc: "10_000"\nd: yes\ne: 1_0.5\n')).toEqual({ a: 10000, b: 12, c: '10_000', d: 'yes', e: '1_0.5' });
  });
});
