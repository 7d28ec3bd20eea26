import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { InstanceLogWriter, logPath, registerLogRoutes, rotationOf, sizeBytes } from '../../../src/executor/logs.js';

describe('instance log writer', () => {
  it('rotates output.log by size and keeps maxFiles files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const writer = new InstanceLogWriter(dir, { maxBytes: 10, maxFiles: 3 });
    for (let i = 0; i < 6; i++) writer.write(Buffer.from(`line-${i}-xx\n`));
    writer.close();
    expect(readdirSync(dir).sort()).toEqual(['output.log', 'output.log-4', 'output.log-5']);
    expect(readFileSync(join(dir, 'output.log'), 'utf8')).toBe('line-5-xx\n');
    expect(readFileSync(join(dir, 'output.log-5'), 'utf8')).toBe('line-4-xx\n');
  });

  it('reads sizes and rotation from LoggingSpec', () => {
    expect(sizeBytes('10m')).toBe(10 * 1024 * 1024);
    expect(sizeBytes('2k')).toBe(2048);
    expect(rotationOf(undefined)).toEqual({ maxBytes: 10 * 1024 * 1024, maxFiles: 3 });
    expect(rotationOf({ type: 'LOCAL', maxSize: '1g', maxFiles: 7 })).toEqual({ maxBytes: 1024 ** 3, maxFiles: 7 });
  });

  it('refuses names that escape the instance folder', () => {
    expect(() => logPath('/l', 'S-1', 'SI-1', '../../etc/passwd')).toThrow('Invalid log file name');
    expect(() => logPath('/l', 'S-1', 'SI-1', '/etc/passwd')).toThrow('Invalid log file name');
    expect(() => logPath('/l', '..', 'SI-1')).toThrow('Invalid service id');
    expect(logPath('/l', 'S-1', 'SI-1', 'output.log')).toBe('/l/S-1/SI-1/output.log');
  });
});

describe('executor log API (§6.10)', () => {
  const logDir = mkdtempSync(join(tmpdir(), 'logapi-'));
  mkdirSync(join(logDir, 'S-1', 'SI-1'), { recursive: true });
  writeFileSync(join(logDir, 'S-1', 'SI-1', 'output.log'), '0123456789abcdef');
  writeFileSync(join(logDir, 'S-1', 'SI-1', 'output.log-1'), 'older');
  writeFileSync(join(logDir, 'secret.txt'), 'secret');
  const app = Fastify();
  registerLogRoutes(app, logDir);
  afterAll(() => app.close());
  const base = '/apis/v1/logs/filestream/S-1/SI-1';

  it('lists, reads at offsets and downloads', async () => {
    expect((await app.inject(`${base}/list`)).json()).toEqual({ files: ['output.log', 'output.log-1'] });
    expect((await app.inject(`${base}/read/output.log?offset=-1`)).json()).toEqual({ data: '', offset: 16 });
    expect((await app.inject(`${base}/read/output.log?offset=4&length=3`)).json()).toEqual({ data: '456', offset: 4 });
    expect((await app.inject(`${base}/read/output.log`)).json()).toEqual({ data: '0123456789abcdef', offset: 0 });
    // What the controller forwards for a client that sends no length (the CLI's tail): -1, the default length.
    expect((await app.inject(`${base}/read/output.log?offset=-1&length=-1`)).json()).toEqual({ data: '', offset: 16 });
    expect((await app.inject(`${base}/read/output.log?offset=10&length=-1`)).json()).toEqual({ data: 'abcdef', offset: 10 });
    expect((await app.inject(`${base}/read/output.log?offset=100`)).json()).toEqual({ data: '', offset: 100 });
    const download = await app.inject(`${base}/download/output.log-1`);
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-disposition']).toBe('attachment; filename="output.log-1"');
    expect(download.body).toBe('older');
  });

  it('answers 400 for names escaping the folder and 404 for unknown instances', async () => {
    for (const bad of ['..%2F..%2Fsecret.txt', '%2E%2E%2Fsecret.txt', '%2Fetc%2Fpasswd', '.hidden']) {
      const r = await app.inject(`${base}/read/${bad}`);
      expect(r.statusCode, bad).toBe(400);
      expect(r.json().error).toContain('Invalid log file name');
    }
    expect((await app.inject(`/apis/v1/logs/filestream/S-1/..%2F..%2Fx/list`)).statusCode).toBe(400);
    expect((await app.inject(`${base}/read/output.log?offset=-5`)).statusCode).toBe(400);
    const badLength = await app.inject(`${base}/read/output.log?offset=0&length=-2`);
    expect([badLength.statusCode, badLength.json().error]).toEqual([400, 'length must be -1 (default) or a non-negative integer']);
    expect((await app.inject(`/apis/v1/logs/filestream/S-1/SI-2/list`)).statusCode).toBe(404);
    expect((await app.inject(`${base}/download/output.log-9`)).statusCode).toBe(404);
  });
});
