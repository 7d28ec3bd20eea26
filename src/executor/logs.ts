import { closeSync, createReadStream, existsSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { LoggingSpec } from '../model/spec.js';
import { DEFAULT_LOGGING } from '../model/spec.js';

/**
 * Per-instance output logs: `<logDir>/<serviceId>/<instanceId>/output.log`, fed from the container's
 * stdout/stderr and rotated per the instance's LoggingSpec; plus the executor's log file API (§6.10).
 */

export const OUTPUT_LOG = 'output.log';

/** "10m" -> bytes (k, m, g are binary units, as Docker reads them). */
export function sizeBytes(text: string): number {
  const match = /^(\d+)([kmgKMG]?)$/.exec(text.trim());
  if (!match) throw new Error(`Invalid size: ${text}`);
  const unit = match[2]!.toLowerCase();
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  return Number(match[1]) * mult;
}

export interface LogRotation {
  maxBytes: number;
  /** Files kept, the live output.log included. */
  maxFiles: number;
}

export function rotationOf(spec: LoggingSpec | undefined): LogRotation {
  const logging = spec?.type === 'LOCAL' ? spec : DEFAULT_LOGGING;
  if (logging.type !== 'LOCAL') throw new Error('unreachable');
  return { maxBytes: Math.max(1, sizeBytes(logging.maxSize)), maxFiles: logging.maxFiles };
}

export function instanceLogDir(logDir: string, serviceId: string, instanceId: string): string {
  return join(logDir, serviceId, instanceId);
}

/** Appends to output.log; when the next write would pass maxBytes the file becomes output.log-<n>. */
export class InstanceLogWriter {
  private fd: number | undefined;
  private size = 0;
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly rotation: LogRotation,
  ) {
    mkdirSync(dir, { recursive: true });
    this.openFile();
  }

  private openFile(): void {
    this.fd = openSync(join(this.dir, OUTPUT_LOG), 'a');
    this.size = fstatSync(this.fd).size;
  }

  /** Time (epoch seconds) of the last write, so a re-attached follower can resume from there. */
  lastWriteSeconds(): number {
    const stat = statSync(join(this.dir, OUTPUT_LOG));
    return stat.size === 0 ? 0 : Math.floor(stat.mtimeMs / 1000);
  }

  write(chunk: Buffer): void {
    if (this.closed || chunk.length === 0) return;
    if (this.size > 0 && this.size + chunk.length > this.rotation.maxBytes) this.rotate();
    writeSync(this.fd!, chunk);
    this.size += chunk.length;
  }

  private rotate(): void {
    closeSync(this.fd!);
    const rotated = rotatedFiles(this.dir);
    const next = rotated.length === 0 ? 1 : rotated[rotated.length - 1]!.index + 1;
    renameSync(join(this.dir, OUTPUT_LOG), join(this.dir, `${OUTPUT_LOG}-${next}`));
    const all = [...rotated, { name: `${OUTPUT_LOG}-${next}`, index: next }];
    const excess = all.length - (this.rotation.maxFiles - 1);
    for (const old of all.slice(0, Math.max(0, excess))) rmSync(join(this.dir, old.name), { force: true });
    this.openFile();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

function rotatedFiles(dir: string): Array<{ name: string; index: number }> {
  return readdirSync(dir)
    .map((name) => ({ name, match: /^output\.log-(\d+)$/.exec(name) }))
    .filter((f) => f.match)
    .map((f) => ({ name: f.name, index: Number(f.match![1]) }))
    .sort((a, b) => a.index - b.index);
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9\-_]*$/;
const FILE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Default and cap of one read: the UI tailer asks 32 KiB at a time; a cap keeps one call from eating memory. */
export const DEFAULT_READ_LENGTH = 32_768;
export const MAX_READ_LENGTH = 4 * 1024 * 1024;

class LogPathError extends Error {}

/** The instance folder and, when given, a file inside it; anything that could escape the folder is refused. */
export function logPath(logDir: string, serviceId: string, instanceId: string, fileName?: string): string {
  if (!ID_PATTERN.test(serviceId)) throw new LogPathError(`Invalid service id: ${serviceId}`);
  if (!ID_PATTERN.test(instanceId)) throw new LogPathError(`Invalid instance id: ${instanceId}`);
  const dir = resolve(logDir, serviceId, instanceId);
  if (fileName === undefined) return dir;
  if (!FILE_PATTERN.test(fileName) || fileName.includes('..')) throw new LogPathError(`Invalid log file name: ${fileName}`);
  const file = resolve(dir, fileName);
  if (!file.startsWith(dir + sep)) throw new LogPathError(`Invalid log file name: ${fileName}`);
  return file;
}

export function registerLogRoutes(app: FastifyInstance, logDir: string): void {
  const base = '/apis/v1/logs/filestream/:serviceId/:instanceId';
  type Params = { serviceId: string; instanceId: string; fileName?: string };

  const paths = (params: Params) => {
    try {
      return { dir: logPath(logDir, params.serviceId, params.instanceId), file: params.fileName === undefined ? undefined : logPath(logDir, params.serviceId, params.instanceId, params.fileName) };
    } catch (error) {
      if (error instanceof LogPathError) return { error: error.message };
      throw error;
    }
  };

  app.get<{ Params: Params }>(`${base}/list`, async (req, reply) => {
    const p = paths(req.params);
    if ('error' in p) return reply.code(400).send({ error: p.error });
    if (!existsSync(p.dir)) return reply.code(404).send({ error: `No logs for instance ${req.params.instanceId}` });
    const files = readdirSync(p.dir).filter((f) => FILE_PATTERN.test(f)).sort();
    return { files };
  });

  app.get<{ Params: Params; Querystring: { offset?: string; length?: string } }>(`${base}/read/:fileName`, async (req, reply) => {
    const p = paths(req.params);
    if ('error' in p) return reply.code(400).send({ error: p.error });
    const offset = req.query.offset === undefined || req.query.offset === '' ? 0 : Number(req.query.offset);
    // -1 is Drove's "default length": the controller forwards it when the client (the CLI's tail) sends none.
    const asked = req.query.length === undefined || req.query.length === '' ? -1 : Number(req.query.length);
    const length = asked === -1 ? DEFAULT_READ_LENGTH : asked;
    if (!Number.isInteger(offset) || offset < -1) return reply.code(400).send({ error: 'offset must be an integer >= -1' });
    if (!Number.isInteger(length) || length < 0) return reply.code(400).send({ error: 'length must be -1 (default) or a non-negative integer' });
    if (!existsSync(p.file!)) return reply.code(404).send({ error: `No log file ${req.params.fileName} for instance ${req.params.instanceId}` });
    const handle = await open(p.file!, 'r');
    try {
      const size = (await handle.stat()).size;
      // offset -1: "where does the file end" - the tailer's first call.
      if (offset === -1) return { data: '', offset: size };
      const want = Math.min(length, MAX_READ_LENGTH, Math.max(0, size - offset));
      const buffer = Buffer.alloc(want);
      const { bytesRead } = want > 0 ? await handle.read(buffer, 0, want, offset) : { bytesRead: 0 };
      return { data: buffer.subarray(0, bytesRead).toString('utf8'), offset };
    } finally {
      await handle.close();
    }
  });

  app.get<{ Params: Params }>(`${base}/download/:fileName`, async (req, reply) => {
    const p = paths(req.params);
    if ('error' in p) return reply.code(400).send({ error: p.error });
    if (!existsSync(p.file!)) return reply.code(404).send({ error: `No log file ${req.params.fileName} for instance ${req.params.instanceId}` });
    reply.header('Content-Disposition', `attachment; filename="${req.params.fileName}"`);
    reply.type('application/octet-stream');
    return reply.send(createReadStream(p.file!));
  });
}
