import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { escapeConfigValue, readConfigFile, resolveConnection, writeConfigFile } from '../../../src/cli/config.js';

/** ~/.drove as `drove config` writes it and every command reads it (src/cli/config.ts), on a real file. */

describe('the config file', () => {
  test('a value written by drove config reads back unchanged, "%", ";" and "#" included; the file is 0600', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'drove-config-')), 'drove.ini');
    const password = 'p%ss;#word %(x)s';
    writeConfigFile(file, {
      DEFAULT: { current_cluster: 'dev' },
      dev: { endpoint: 'http://127.0.0.1:7000', username: 'admin', password: escapeConfigValue(password) },
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('[DEFAULT]\ncurrent_cluster = dev\n\n[dev]\nendpoint = http://127.0.0.1:7000\nusername = admin\npassword = p%%ss\\;\\#word %%(x)s\n');
    const connection = resolveConnection({ file }, {});
    expect([connection.endpoint, connection.username, connection.password]).toEqual(['http://127.0.0.1:7000', 'admin', password]);
    expect(readConfigFile(file)).toEqual({
      DEFAULT: { current_cluster: 'dev' },
      dev: { endpoint: 'http://127.0.0.1:7000', username: 'admin', password: 'p%%ss;#word %%(x)s' },
    });
  });

  test('the password: -p first, then DROVE_PASSWORD (not when empty), then the file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'drove-config-')), 'drove.ini');
    writeConfigFile(file, { dev: { endpoint: 'http://h:1', username: 'u', password: 'from-file' } });
    expect(resolveConnection({ file, cluster: 'dev', password: 'flag' }, { DROVE_PASSWORD: 'env' }).password).toBe('flag');
    expect(resolveConnection({ file, cluster: 'dev' }, { DROVE_PASSWORD: 'env' }).password).toBe('env');
    expect(resolveConnection({ file, cluster: 'dev' }, { DROVE_PASSWORD: '' }).password).toBe('from-file');
  });

  test('an absent file reads as none; an interpolated value refers to another key', () => {
    expect(readConfigFile(join(tmpdir(), 'drove-no-such-file'))).toBeUndefined();
    const file = join(mkdtempSync(join(tmpdir(), 'drove-config-')), 'drove.ini');
    writeConfigFile(file, { DEFAULT: { token: 'abc' }, dev: { endpoint: 'http://h:1', auth_header: 'Bearer %(token)s' } });
    expect(resolveConnection({ file, cluster: 'dev' }, {}).authHeader).toBe('Bearer abc');
  });
});
