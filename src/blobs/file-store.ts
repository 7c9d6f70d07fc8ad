import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { byteLimit } from '../codecs/limit.js';
import { tooLarge } from '../errors.js';
import { MultiHash } from './digests.js';
import type { BlobStore, Promotion, StagedBlob, StageOptions } from './store.js';

const SHA256 = /^[0-9a-f]{64}$/;

/** Writes each chunk to every target and waits until all of them accept more (backpressure). */
function fanOut(targets: readonly Writable[]): Writable {
  const settle = (t: Writable) =>
    new Promise<void>((resolve, reject) => {
      if (t.writableFinished) return resolve();
      t.once('finish', resolve).once('close', resolve).once('error', reject);
    });
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      const waits = targets
        .filter((t) => !t.destroyed && !t.write(chunk))
        .map((t) => new Promise<void>((resolve) => t.once('drain', resolve).once('close', resolve)));
      if (waits.length === 0) done();
      else Promise.all(waits).then(() => done(), done);
    },
    final(done) {
      for (const t of targets) t.end();
      Promise.all(targets.map(settle)).then(() => done(), done);
    },
    destroy(err, done) {
      // Without the error: readers of the copies see a premature close, the caller keeps
      // the first error, and no target emits an error nobody listens to.
      for (const t of targets) if (!t.destroyed) t.destroy();
      done(err);
    },
  });
}

/** blobs/ab/cd/<sha256>, staging in tmp/ on the same volume so promotion is a rename. */
export class FileBlobStore implements BlobStore {
  private readonly blobsDir: string;
  private readonly tmpDir: string;

  constructor(root: string) {
    this.blobsDir = join(root, 'blobs');
    this.tmpDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.blobsDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async stage<T = undefined>(
    body: Readable,
    options: StageOptions<T>,
  ): Promise<{ staged: StagedBlob; inspected: T }> {
    const path = join(this.tmpDir, randomUUID());
    const hash = new MultiHash();
    const consumers = [...(options.inspect ? [options.inspect] : []), ...(options.alsoTo ?? [])];
    const copies = consumers.map(() => new PassThrough({ highWaterMark: 256 * 1024 }));
    const abort = new AbortController();
    let firstError: unknown;
    const fail = (err: unknown) => {
      firstError ??= err;
      abort.abort(err);
    };
    const consuming = consumers.map((consume, i) => {
      const copy = copies[i]!;
      return consume(copy).then(
        (value) => {
          copy.resume(); // a reader that stopped early must not stall the tee
          return value;
        },
        (err: unknown) => {
          fail(err);
          throw err;
        },
      );
    });
    const file = createWriteStream(path, { flags: 'wx', flush: true });
    file.on('error', () => {}); // reported through the pipeline
    const writing = pipeline(
      body,
      byteLimit(options.maxBytes, () => tooLarge(options.tooLargeMessage ?? 'request body too large')),
      hash,
      fanOut([file, ...copies]),
      { signal: abort.signal },
    ).catch((err: unknown) => {
      fail(err);
      for (const c of copies) c.destroy();
      throw err;
    });
    const results = await Promise.allSettled([writing, ...consuming]);
    if (results.some((r) => r.status === 'rejected')) {
      await rm(path, { force: true });
      throw firstError;
    }
    const inspected = (options.inspect ? (results[1] as PromiseFulfilledResult<T>).value : undefined) as T;
    const staged: StagedBlob = {
      path,
      size: hash.size,
      digests: hash.digests(),
      discard: () => rm(path, { force: true }),
    };
    return { staged, inspected };
  }

  async promote(staged: StagedBlob): Promise<Promotion> {
    const target = this.pathOf(staged.digests.sha256);
    if (await exists(target)) return { created: false, undo: async () => {} };
    await mkdir(dirname(target), { recursive: true });
    await rename(staged.path, target); // atomic: readers see the whole file or nothing
    return { created: true, undo: () => rename(target, staged.path) };
  }

  open(sha256: string, range?: { start: number; end: number }): Readable {
    // Large reads: fewer event-loop turns per megabyte served.
    return createReadStream(this.pathOf(sha256), { highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  exists(sha256: string): Promise<boolean> {
    return exists(this.pathOf(sha256));
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  async sweepStaging(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await readdir(this.tmpDir)) {
      const path = join(this.tmpDir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info || (olderThanMs > 0 && info.mtimeMs > cutoff)) continue;
      await rm(path, { force: true, recursive: true });
      removed++;
    }
    return removed;
  }

  listStaging(): Promise<string[]> {
    return readdir(this.tmpDir).then((names) => names.sort());
  }

  async listBlobs(): Promise<string[]> {
    const out: string[] = [];
    for (const a of await readdir(this.blobsDir).catch(() => [])) {
      for (const b of await readdir(join(this.blobsDir, a)).catch(() => [])) {
        for (const name of await readdir(join(this.blobsDir, a, b)).catch(() => [])) {
          if (SHA256.test(name)) out.push(name);
        }
      }
    }
    return out.sort();
  }

  async checkWritable(): Promise<void> {
    const probe = join(this.tmpDir, `.ready-${randomUUID()}`);
    await writeFile(probe, 'ok');
    await rm(probe, { force: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
