import { closeSync, createReadStream, existsSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ConcurrencyGate } from '../model/concurrency-gate.js';
import { isInstanceId, isLogFileName } from '../model/ids.js';
import type { LoggingSpec } from '../model/spec.js';
import { DEFAULT_LOGGING, isServiceId } from '../model/spec.js';
import { DEFAULT_EXECUTOR_HTTP_LIMITS } from './http-limits.js';

/**
 * Per-instance output logs: `<logDir>/<serviceId>/<instanceId>/output.log`, fed from the container's
 * stdout/stderr and rotated per the instance's LoggingSpec (rotated files gzipped to `output.log-<n>.gz` when
 * it says `compress`); plus the executor's log file API
 * (docs/design/instance-lifecycle.md#instance-logs).
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
  /** Gzip rotated files (the live output.log never is). */
  compress: boolean;
}

export function rotationOf(spec: LoggingSpec | undefined): LogRotation {
  const logging = spec?.type === 'LOCAL' ? spec : DEFAULT_LOGGING;
  if (logging.type !== 'LOCAL') throw new Error('unreachable');
  // A LOCAL spec without `compress` does not compress, as in Drove (a Java boolean); its default spec does.
  return { maxBytes: Math.max(1, sizeBytes(logging.maxSize)), maxFiles: logging.maxFiles, compress: logging.compress ?? false };
}

/** Throws for ids that are not a service id / `SI-<uuid>` (messages are checked on arrival; this is the floor). */
export function instanceLogDir(logDir: string, serviceId: string, instanceId: string): string {
  return logPath(logDir, serviceId, instanceId);
}

/**
 * Appends to output.log; when the next write would pass maxBytes the file becomes output.log-<n>, gzipped in
 * the background to output.log-<n>.gz when the rotation says so. Compression streams through zlib (its work
 * runs on libuv's thread pool), so writes of container output never wait for it.
 */
export class InstanceLogWriter {
  private fd: number | undefined;
  private size = 0;
  private closed = false;
  /** Compressions run one after another: a log burst rotating often must not start many at once. */
  private compressing: Promise<void> = Promise.resolve();
  /** Rotated files waiting for (or under) compression. */
  private readonly queued = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly rotation: LogRotation,
    /** A rotated file that could not be compressed stays as it is; this hears why. */
    private readonly onCompressError: (file: string, error: unknown) => void = () => undefined,
  ) {
    mkdirSync(dir, { recursive: true });
    // Leftovers of a compression cut short by an executor restart; the plain file they came from is still there.
    for (const name of readdirSync(dir)) if (PARTIAL_PATTERN.test(name)) rmSync(join(dir, name), { force: true });
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

  /**
   * No file grows past maxBytes: a chunk (what the container wrote at once, many lines or part of one) that does
   * not fit is cut after its last whole line that does, the rest goes to the next file. A line longer than a whole
   * file is cut where the file is full, on a character boundary.
   */
  write(chunk: Buffer): void {
    if (this.closed) return;
    let rest = chunk;
    while (rest.length > 0) {
      const room = this.rotation.maxBytes - this.size;
      if (rest.length <= room) {
        this.append(rest);
        return;
      }
      let cut = room > 0 ? rest.lastIndexOf(0x0a, room - 1) + 1 : 0;
      if (cut === 0 && this.size > 0) {
        this.rotate();
        continue;
      }
      if (cut === 0) cut = characterBoundary(rest, room);
      this.append(rest.subarray(0, cut));
      rest = rest.subarray(cut);
      this.rotate();
    }
  }

  private append(bytes: Buffer): void {
    writeSync(this.fd!, bytes);
    this.size += bytes.length;
  }

  private rotate(): void {
    closeSync(this.fd!);
    const rotated = rotatedFiles(this.dir);
    const next = rotated.length === 0 ? 1 : rotated[rotated.length - 1]!.index + 1;
    renameSync(join(this.dir, OUTPUT_LOG), join(this.dir, `${OUTPUT_LOG}-${next}`));
    const all = [...rotated, { index: next, names: [`${OUTPUT_LOG}-${next}`] }];
    const excess = Math.max(0, all.length - (this.rotation.maxFiles - 1));
    for (const old of all.slice(0, excess)) for (const name of old.names) rmSync(join(this.dir, name), { force: true });
    this.openFile();
    if (!this.rotation.compress) return;
    // Every kept file still plain, not only the newest: one left by a restart mid-compression is done now.
    for (const kept of all.slice(excess)) {
      if (kept.names.some((n) => n.endsWith('.gz'))) continue;
      const name = kept.names[0]!;
      // Queued by an earlier rotation and not done yet: once is enough.
      if (this.queued.has(name)) continue;
      this.queued.add(name);
      this.compressing = this.compressing.then(() =>
        gzipRotated(this.dir, name)
          .catch((error: unknown) => this.onCompressError(join(this.dir, name), error))
          .finally(() => this.queued.delete(name)),
      );
    }
  }

  /** Resolves when every compression started so far has finished (tests, orderly shutdown). */
  settled(): Promise<void> {
    return this.compressing;
  }

  /**
   * Closes the live file and touches the folder: its mtime then says when the instance stopped writing for
   * good, which is what the log cleanup ages folders by (log-cleanup.ts).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    try {
      const now = new Date();
      utimesSync(this.dir, now, now);
    } catch {
      // The folder was removed meanwhile; nothing to age.
    }
  }
}

const PARTIAL_PATTERN = /^\.output\.log-\d+\.gz\.partial$/;

/**
 * output.log-<n> -> output.log-<n>.gz via a hidden partial file (never listed, never half a .gz under the real
 * name). A file pruned before or while it is compressed is not brought back.
 *
 * Both files are opened before the copy starts: a write stream opens its file asynchronously, and one destroyed
 * by a failing pipeline (its source pruned meanwhile) still creates the file after the cleanup below has run,
 * leaving a stray partial behind.
 */
async function gzipRotated(dir: string, name: string): Promise<void> {
  const source = join(dir, name);
  const partial = join(dir, `.${name}.gz.partial`);
  let input;
  try {
    input = await open(source, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  try {
    const output = await open(partial, 'w');
    await pipeline(input.createReadStream(), createGzip(), output.createWriteStream());
    if (!existsSync(source)) return;
    renameSync(partial, `${source}.gz`);
    rmSync(source, { force: true });
  } finally {
    await input.close().catch(() => undefined);
    rmSync(partial, { force: true });
  }
}

/**
 * Where to cut `bytes` to keep at most `limit` of them without splitting a UTF-8 character: before the last
 * character that starts within the limit when it does not end there; at least one whole character.
 */
function characterBoundary(bytes: Buffer, limit: number): number {
  let cut = Math.min(bytes.length, Math.max(1, limit));
  // 0b10xxxxxx continues a character: step back to where it starts.
  while (cut > 0 && cut < bytes.length && (bytes[cut]! & 0xc0) === 0x80) cut--;
  if (cut > 0) return cut;
  let end = 1;
  while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end++;
  return end;
}

/** Rotated files by index, oldest first; an index has two names while its compression is under way. */
function rotatedFiles(dir: string): Array<{ index: number; names: string[] }> {
  const byIndex = new Map<number, string[]>();
  for (const name of readdirSync(dir)) {
    const match = /^output\.log-(\d+)(\.gz)?$/.exec(name);
    if (!match) continue;
    const index = Number(match[1]);
    byIndex.set(index, [...(byIndex.get(index) ?? []), name].sort());
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([index, names]) => ({ index, names }));
}

/** Default and cap of one read: the UI tailer asks 32 KiB at a time; a cap keeps one call from eating memory. */
export const DEFAULT_READ_LENGTH = 32_768;
export const MAX_READ_LENGTH = 4 * 1024 * 1024;

class LogPathError extends Error {}

/** The instance folder and, when given, a file inside it; anything that could escape the folder is refused. */
export function logPath(logDir: string, serviceId: string, instanceId: string, fileName?: string): string {
  if (!isServiceId(serviceId)) throw new LogPathError(`Invalid service id: ${serviceId}`);
  if (!isInstanceId(instanceId)) throw new LogPathError(`Invalid instance id: ${instanceId}`);
  const dir = resolve(logDir, serviceId, instanceId);
  if (fileName === undefined) return dir;
  if (!isLogFileName(fileName)) throw new LogPathError(`Invalid log file name: ${fileName}`);
  const file = resolve(dir, fileName);
  if (!file.startsWith(dir + sep)) throw new LogPathError(`Invalid log file name: ${fileName}`);
  return file;
}

/** `maxConcurrent`: log requests served at once, one more is a 429 (http-limits.ts). */
export function registerLogRoutes(
  app: FastifyInstance,
  logDir: string,
  maxConcurrent = DEFAULT_EXECUTOR_HTTP_LIMITS.maxConcurrentLogReads,
): void {
  const base = '/apis/v1/logs/filestream/:serviceId/:instanceId';
  type Params = { serviceId: string; instanceId: string; fileName?: string };
  const gate = new ConcurrencyGate(maxConcurrent);
  // A route hook, so it runs after the secret check: refused callers never take a slot.
  const bounded = {
    onRequest: async (_req: unknown, reply: FastifyReply) => {
      const release = gate.tryAcquire();
      if (!release) return reply.code(429).header('retry-after', '1').send({ error: `Too many log reads in progress (at most ${gate.limit}), retry in a moment` });
      // 'close' comes once the response is sent, streamed or cut off by the client.
      reply.raw.once('close', release);
    },
  };

  const paths = (params: Params) => {
    try {
      return { dir: logPath(logDir, params.serviceId, params.instanceId), file: params.fileName === undefined ? undefined : logPath(logDir, params.serviceId, params.instanceId, params.fileName) };
    } catch (error) {
      if (error instanceof LogPathError) return { error: error.message };
      throw error;
    }
  };

  app.get<{ Params: Params }>(`${base}/list`, bounded, async (req, reply) => {
    const p = paths(req.params);
    if ('error' in p) return reply.code(400).send({ error: p.error });
    if (!existsSync(p.dir)) return reply.code(404).send({ error: `No logs for instance ${req.params.instanceId}` });
    const files = readdirSync(p.dir).filter(isLogFileName).sort();
    return { files };
  });

  app.get<{ Params: Params; Querystring: { offset?: string; length?: string } }>(`${base}/read/:fileName`, bounded, async (req, reply) => {
    const p = paths(req.params);
    if ('error' in p) return reply.code(400).send({ error: p.error });
    const offset = req.query.offset === undefined || req.query.offset === '' ? 0 : Number(req.query.offset);
    // -1 is Drove's "default length": the controller forwards it when the client (the CLI's tail) sends none.
    const asked = req.query.length === undefined || req.query.length === '' ? -1 : Number(req.query.length);
    const length = asked === -1 ? DEFAULT_READ_LENGTH : asked;
    if (!Number.isInteger(offset) || offset < -1) return reply.code(400).send({ error: 'offset must be an integer >= -1' });
    if (!Number.isInteger(length) || length < 0) return reply.code(400).send({ error: 'length must be -1 (default) or a non-negative integer' });
    if (!existsSync(p.file!)) return reply.code(404).send({ error: `No log file ${req.params.fileName} for instance ${req.params.instanceId}` });
    // Offsets into a gzip stream mean nothing to a tailer or the UI, and decompressing up to an offset on every
    // call is costly: compressed (rotated, finished) files are for download.
    if (req.params.fileName!.endsWith('.gz')) {
      return reply.code(400).send({
        error: `${req.params.fileName} is gzip-compressed: read serves plain text only, download it instead (${base.replace(':serviceId', req.params.serviceId).replace(':instanceId', req.params.instanceId)}/download/${req.params.fileName})`,
      });
    }
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

  app.get<{ Params: Params }>(`${base}/download/:fileName`, bounded, async (req, reply) => {
    const p = paths(req.params);
    if ('error' in p) return reply.code(400).send({ error: p.error });
    if (!existsSync(p.file!)) return reply.code(404).send({ error: `No log file ${req.params.fileName} for instance ${req.params.instanceId}` });
    reply.header('Content-Disposition', `attachment; filename="${req.params.fileName}"`);
    // Served as stored: a .gz is the gzip file itself (not a Content-Encoding), so it is saved as output.log-<n>.gz.
    reply.type(req.params.fileName!.endsWith('.gz') ? 'application/gzip' : 'application/octet-stream');
    return reply.send(createReadStream(p.file!));
  });
}
