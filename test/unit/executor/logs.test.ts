import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { InstanceLogWriter, logPath, registerLogRoutes, rotationOf, sizeBytes } from '../../../src/executor/logs.js';

describe('instance log writer', () => {
  it('rotates output.log by size and keeps maxFiles files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const writer = new InstanceLogWriter(dir, { maxBytes: 10, maxFiles: 3, compress: false });
    for (let i = 0; i < 6; i++) writer.write(Buffer.from(`line-${i}-xx\n`));
    writer.close();
    expect(readdirSync(dir).sort()).toEqual(['output.log', 'output.log-4', 'output.log-5']);
    expect(readFileSync(join(dir, 'output.log'), 'utf8')).toBe('line-5-xx\n');
    expect(readFileSync(join(dir, 'output.log-5'), 'utf8')).toBe('line-4-xx\n');
  });

  it('cuts a chunk of many lines after the last whole line that fits: no file passes maxSize, nothing is lost', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const writer = new InstanceLogWriter(dir, { maxBytes: 25, maxFiles: 10, compress: false });
    // One chunk, as an attach delivers what the container wrote at once: 6 lines of 10 bytes.
    const text = Array.from({ length: 6 }, (_, i) => `line-${i}-xx\n`).join('');
    writer.write(Buffer.from(text));
    writer.close();
    const files = ['output.log-1', 'output.log-2', 'output.log'];
    expect(readdirSync(dir).sort()).toEqual([...files].sort());
    expect(files.map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(['line-0-xx\nline-1-xx\n', 'line-2-xx\nline-3-xx\n', 'line-4-xx\nline-5-xx\n']);
  });

  it('a line longer than a file is cut where the file is full, never inside a character', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const writer = new InstanceLogWriter(dir, { maxBytes: 8, maxFiles: 10, compress: false });
    writer.write(Buffer.from('ab\n'));
    // 'é' is two bytes: a cut at 8 bytes would split the fourth one.
    const line = 'éééééééééé\n';
    writer.write(Buffer.from(line));
    writer.close();
    const files = readdirSync(dir)
      .sort((a, b) => (a === 'output.log' ? 1 : b === 'output.log' ? -1 : Number(a.split('-')[1]) - Number(b.split('-')[1])))
      .map((f) => readFileSync(join(dir, f)));
    expect(files.every((bytes) => bytes.length <= 8)).toBe(true);
    expect(files.every((bytes) => !bytes.toString('utf8').includes('\ufffd'))).toBe(true);
    expect(Buffer.concat(files).toString('utf8')).toBe(`ab\n${line}`);
  });

  it('gzips rotated files when compress is set, keeping maxFiles files including the live one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const writer = new InstanceLogWriter(dir, { maxBytes: 10, maxFiles: 3, compress: true });
    for (let i = 0; i < 6; i++) writer.write(Buffer.from(`line-${i}-xx\n`));
    await writer.settled();
    writer.close();
    expect(readdirSync(dir).sort()).toEqual(['output.log', 'output.log-4.gz', 'output.log-5.gz']);
    expect(readFileSync(join(dir, 'output.log'), 'utf8')).toBe('line-5-xx\n');
    expect(gunzipSync(readFileSync(join(dir, 'output.log-4.gz'))).toString()).toBe('line-3-xx\n');
    expect(gunzipSync(readFileSync(join(dir, 'output.log-5.gz'))).toString()).toBe('line-4-xx\n');
  });

  it('a burst of rotations: files pruned before their turn are skipped quietly, none is compressed twice, no partial is left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const errors: unknown[] = [];
    const writer = new InstanceLogWriter(dir, { maxBytes: 10, maxFiles: 3, compress: true }, (_file, e) => errors.push(e));
    // Every rotation happens before the first compression runs, so most queued files are pruned by then.
    for (let i = 0; i < 50; i++) writer.write(Buffer.from(`line-${i % 10}-xx\n`)); // 10 bytes each: one file per line
    await writer.settled();
    writer.close();
    expect(errors).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['output.log', 'output.log-48.gz', 'output.log-49.gz']);
  });

  it('maxFiles 1 keeps only the live file, compressed or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const writer = new InstanceLogWriter(dir, { maxBytes: 10, maxFiles: 1, compress: true });
    for (let i = 0; i < 3; i++) writer.write(Buffer.from(`line-${i}-xx\n`));
    await writer.settled();
    writer.close();
    expect(readdirSync(dir)).toEqual(['output.log']);
  });

  it('finishes what a restart cut short: drops the partial .gz and compresses the plain rotated file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    writeFileSync(join(dir, 'output.log-3'), 'before the restart\n');
    writeFileSync(join(dir, '.output.log-3.gz.partial'), 'half');
    writeFileSync(join(dir, 'output.log'), 'live-xxxx\n');
    const errors: unknown[] = [];
    const writer = new InstanceLogWriter(dir, { maxBytes: 10, maxFiles: 3, compress: true }, (_file, e) => errors.push(e));
    expect(readdirSync(dir).sort()).toEqual(['output.log', 'output.log-3']);
    writer.write(Buffer.from('next-line\n'));
    await writer.settled();
    writer.close();
    expect(readdirSync(dir).sort()).toEqual(['output.log', 'output.log-3.gz', 'output.log-4.gz']);
    expect(gunzipSync(readFileSync(join(dir, 'output.log-3.gz'))).toString()).toBe('before the restart\n');
    expect(gunzipSync(readFileSync(join(dir, 'output.log-4.gz'))).toString()).toBe('live-xxxx\n');
    expect(errors).toEqual([]);
  });

  it('close() touches the folder, marking when the instance stopped writing (the log cleanup ages by it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'logs-'));
    const writer = new InstanceLogWriter(dir, { maxBytes: 10, maxFiles: 3, compress: false });
    utimesSync(dir, new Date(2020, 0, 1), new Date(2020, 0, 1));
    writer.close();
    expect(statSync(dir).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
  });

  it('reads sizes and rotation from LoggingSpec; compress follows the spec, and Drove default spec compresses', () => {
    expect(sizeBytes('10m')).toBe(10 * 1024 * 1024);
    expect(sizeBytes('2k')).toBe(2048);
    expect(rotationOf(undefined)).toEqual({ maxBytes: 10 * 1024 * 1024, maxFiles: 3, compress: true });
    expect(rotationOf({ type: 'LOCAL', maxSize: '1g', maxFiles: 7 })).toEqual({ maxBytes: 1024 ** 3, maxFiles: 7, compress: false });
    expect(rotationOf({ type: 'LOCAL', maxSize: '1k', maxFiles: 2, compress: true }).compress).toBe(true);
  });

  it('refuses names that escape the instance folder', () => {
    expect(() => logPath('/l', 'S-1', 'SI-00000000-0000-4000-8000-000000000001', '../../etc/passwd')).toThrow('Invalid log file name');
    expect(() => logPath('/l', 'S-1', 'SI-00000000-0000-4000-8000-000000000001', '/etc/passwd')).toThrow('Invalid log file name');
    expect(() => logPath('/l', '..', 'SI-00000000-0000-4000-8000-000000000001')).toThrow('Invalid service id');
    expect(logPath('/l', 'S-1', 'SI-00000000-0000-4000-8000-000000000001', 'output.log')).toBe('/l/S-1/SI-00000000-0000-4000-8000-000000000001/output.log');
  });
});

describe('executor log API', () => {
  const logDir = mkdtempSync(join(tmpdir(), 'logapi-'));
  mkdirSync(join(logDir, 'S-1', 'SI-00000000-0000-4000-8000-000000000001'), { recursive: true });
  writeFileSync(join(logDir, 'S-1', 'SI-00000000-0000-4000-8000-000000000001', 'output.log'), '0123456789abcdef');
  writeFileSync(join(logDir, 'S-1', 'SI-00000000-0000-4000-8000-000000000001', 'output.log-1'), 'older');
  const gzipped = gzipSync('oldest');
  writeFileSync(join(logDir, 'S-1', 'SI-00000000-0000-4000-8000-000000000001', 'output.log-0.gz'), gzipped);
  writeFileSync(join(logDir, 'S-1', 'SI-00000000-0000-4000-8000-000000000001', '.output.log-2.gz.partial'), 'half-written');
  writeFileSync(join(logDir, 'secret.txt'), 'secret');
  const app = Fastify();
  registerLogRoutes(app, logDir, 16);
  afterAll(() => app.close());
  const base = '/apis/v1/logs/filestream/S-1/SI-00000000-0000-4000-8000-000000000001';

  it('lists, reads at offsets and downloads', async () => {
    expect((await app.inject(`${base}/list`)).json()).toEqual({ files: ['output.log', 'output.log-0.gz', 'output.log-1'] });
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

  it('compressed files download as stored (application/gzip); read refuses them with 400 pointing to download', async () => {
    const download = await app.inject(`${base}/download/output.log-0.gz`);
    expect(download.statusCode).toBe(200);
    expect(download.headers['content-type']).toBe('application/gzip');
    expect(download.headers['content-encoding']).toBeUndefined();
    expect(download.rawPayload.equals(gzipped)).toBe(true);
    const read = await app.inject(`${base}/read/output.log-0.gz?offset=0`);
    expect(read.statusCode).toBe(400);
    expect(read.json().error).toBe(
      'output.log-0.gz is gzip-compressed: read serves plain text only, download it instead (/apis/v1/logs/filestream/S-1/SI-00000000-0000-4000-8000-000000000001/download/output.log-0.gz)',
    );
    expect((await app.inject(`${base}/read/output.log-7.gz`)).statusCode).toBe(404);
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
    expect((await app.inject(`/apis/v1/logs/filestream/S-1/SI-00000000-0000-4000-8000-000000000002/list`)).statusCode).toBe(404);
    expect((await app.inject(`${base}/download/output.log-9`)).statusCode).toBe(404);
  });
});
