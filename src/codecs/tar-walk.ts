import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import type { Header } from 'tar-stream';
import { badRequest, isHttpError } from '../errors.js';
import { feedBody } from './chunk-sink.js';
import type { ChunkSink } from './chunk-sink.js';
import { decompressor } from './decompress.js';
import { byteLimit } from './limit.js';
import { SNIFF_BYTES, sniffCompression } from './sniff.js';
import type { Compression } from './sniff.js';
import { whenWritable } from './tar-entry.js';
import type { TarEntry } from './tar-entry.js';

/** What an entry handler wants next: the following entry, or no more decompressing. */
export type TarWalkStep = 'continue' | 'stop';

export interface TarWalkOptions<T> {
  /**
   * The compression to read, from what the head sniffed as (undefined: none we know) and the
   * head itself (the whole body when it is shorter than SNIFF_BYTES). Throws the format's 400.
   */
  readonly accept: (sniffed: Compression | undefined, head: Buffer) => Compression;
  /** Decompressed bytes past which the walk fails: bounds the work a small bomb causes. */
  readonly maxUnpackedBytes: number;
  readonly tooLarge: () => Error;
  /**
   * Reads or drains one entry. 'stop' ends the decompression (the body is still drained); a
   * rejection fails the walk.
   */
  readonly onEntry: (header: Header, entry: TarEntry) => Promise<TarWalkStep>;
  /** After the archive's end, or a stop: the result, or the format's 400. */
  readonly finish: (compression: Compression) => T;
  /** The 400's message for every other failure: decoder and tar texts are not for clients. */
  readonly corrupt: string;
}

/**
 * Walks the tar inside a compressed upload while it streams: sniffs the compression from the
 * first SNIFF_BYTES, then feeds decompressor → byteLimit → tar extract with backpressure,
 * handing each entry to `onEntry`. Consumes `body` to its end even when the archive is bad or
 * the walk stopped early, since the caller hashes and stores the same bytes, and never destroys
 * it. Failures reject with a 400 (an HttpError 400 as is, anything else as `corrupt`); an error
 * of `body` itself is passed on as is.
 */
export function walkCompressedTar<T>(body: Readable, options: TarWalkOptions<T>): Promise<T> {
  const corrupt = (err: unknown): Error =>
    isHttpError(err) && err.status === 400 ? err : badRequest(options.corrupt);
  return feedBody(body, new TarWalker(options), corrupt);
}

class TarWalker<T> implements ChunkSink<T> {
  readonly #options: TarWalkOptions<T>;
  #head: Buffer[] = [];
  #headBytes = 0;
  #compression: Compression | undefined;
  #input: PassThrough | undefined;
  #tar: ReturnType<typeof extract> | undefined;
  #parsed: Promise<void> | undefined;
  #failure: unknown;
  #entryFailure: unknown;
  #stopped = false;

  constructor(options: TarWalkOptions<T>) {
    this.#options = options;
  }

  async write(chunk: Buffer): Promise<void> {
    if (!this.#input) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      if (this.#headBytes >= SNIFF_BYTES) await this.#start();
      return;
    }
    await this.#feed(chunk);
  }

  async end(): Promise<T> {
    if (!this.#input) await this.#start();
    const input = this.#input;
    const parsed = this.#parsed;
    if (!input || !parsed || this.#compression === undefined) {
      throw badRequest(this.#options.corrupt);
    }
    if (!this.#stopped) input.end();
    await parsed;
    if (this.#failure !== undefined) throw this.#failure;
    return this.#options.finish(this.#compression);
  }

  abort(): void {
    this.#input?.destroy();
  }

  async #start(): Promise<void> {
    const head = Buffer.concat(this.#head);
    this.#head = [];
    const compression = this.#options.accept(sniffCompression(head), head);
    this.#compression = compression;
    const input = new PassThrough();
    const tar = extract();
    tar.on('entry', (header, entry, next) => {
      entry.on('error', () => {}); // it fails with the archive, which reports the cause
      this.#options.onEntry(header, entry).then(
        (step) => {
          if (step === 'continue') next();
          else this.#stop();
        },
        (err: unknown) => {
          this.#entryFailure ??= err;
          next(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
    this.#input = input;
    this.#tar = tar;
    const limit = byteLimit(this.#options.maxUnpackedBytes, this.#options.tooLarge);
    this.#parsed = pipeline(input, decompressor(compression), limit, tar).catch(
      (err: unknown) => {
        if (!this.#stopped) this.#failure ??= this.#entryFailure ?? err;
      },
    );
    await this.#feed(head);
  }

  /** No more decompressing; the rest of the body is only drained. */
  #stop(): void {
    this.#stopped = true;
    // The archive's end, not just the input: the input may have ended already.
    this.#tar?.destroy();
    this.#input?.destroy();
  }

  async #feed(chunk: Buffer): Promise<void> {
    if (this.#stopped) return;
    const input = this.#input;
    if (input && !input.destroyed) {
      if (input.write(chunk)) return;
      await whenWritable(input);
      if (!input.destroyed || this.#stopped) return;
    }
    // The archive failed and took the input down: its pipeline settles with the reason.
    await this.#parsed;
    if (this.#stopped) return;
    throw this.#failure ?? badRequest(this.#options.corrupt);
  }
}
