import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import type { Header } from 'tar-stream';
import { byteLimit } from '../../codecs/limit.js';
import { decompressor } from '../../codecs/decompress.js';
import { SNIFF_BYTES, sniffCompression } from '../../codecs/sniff.js';
import { chunkBuffer, drainTarEntry, readTarEntry, whenWritable, type TarEntry } from '../../codecs/tar-entry.js';
import type { Compression } from '../../codecs/sniff.js';
import { badRequest, isHttpError } from '../../errors.js';
import type { HttpError } from '../../errors.js';
import { parseManifest, type FreeBsdManifest } from './manifest.js';

/** What readPackage learns from a `.pkg` file. */
export interface FreeBsdPackage {
  readonly manifest: FreeBsdManifest;
  readonly compression: Compression;
  /** The member the manifest came from. */
  readonly member: ManifestMember;
}

export type ManifestMember = '+COMPACT_MANIFEST' | '+MANIFEST';

export interface ReadPackageOptions {
  /** Decompressed bytes of the leading `+` members past which the package is refused. */
  readonly maxWalkBytes?: number;
}

// freebsd.md §3.2
const CAPS: Readonly<Record<ManifestMember, number>> = {
  '+COMPACT_MANIFEST': 1024 * 1024,
  '+MANIFEST': 32 * 1024 * 1024,
};
const CAP_TEXT: Readonly<Record<ManifestMember, string>> = {
  '+COMPACT_MANIFEST': '1 MiB',
  '+MANIFEST': '32 MiB',
};
const DEFAULT_MAX_WALK_BYTES = 256 * 1024 * 1024;
const BZIP2_MAGIC = Buffer.from('BZh');
// One message for every decoder or tar failure: library texts are not for clients.
const CORRUPT = 'invalid package: corrupt or truncated archive';

/**
 * Reads a `.pkg` while it streams (freebsd.md §3): sniffs the compression, decompresses only the
 * leading `+` members, and parses and validates the manifest (`+COMPACT_MANIFEST` first, else
 * `+MANIFEST`). Consumes `body` to its end, since the caller hashes and stores the same bytes, and
 * never destroys it. Bad packages reject with a 400; an error of `body` itself is passed on.
 */
export async function readPackage(body: Readable, options: ReadPackageOptions = {}): Promise<FreeBsdPackage> {
  const walker = new ManifestWalker(options.maxWalkBytes ?? DEFAULT_MAX_WALK_BYTES);
  let failure: HttpError | undefined;
  let bytes = 0;
  try {
    for await (const chunk of body.iterator({ destroyOnReturn: false })) {
      const buffer = chunkBuffer(chunk);
      bytes += buffer.length;
      if (failure || walker.finished) continue; // drain: the caller's other branches need the bytes
      try {
        await walker.write(buffer);
      } catch (err) {
        failure = asBadRequest(err);
        walker.abort();
      }
    }
    // freebsd.md §2.3 check 4 comes before the package checks.
    if (bytes === 0) throw badRequest('empty body');
    if (failure) throw failure;
    try {
      return await walker.end();
    } catch (err) {
      throw asBadRequest(err);
    }
  } finally {
    walker.abort();
  }
}

const asBadRequest = (err: unknown): HttpError => (isHttpError(err) && err.status === 400 ? err : badRequest(CORRUPT));

class ManifestWalker {
  readonly #maxWalkBytes: number;
  #head: Buffer[] = [];
  #headBytes = 0;
  #compression: Compression | undefined;
  #input: PassThrough | undefined;
  #tar: ReturnType<typeof extract> | undefined;
  #parsed: Promise<void> | undefined;
  #failure: unknown;
  #entryFailure: unknown;
  #compact: string | undefined;
  #full: string | undefined;
  /** The walk is over: a non-`+` member or `+COMPACT_MANIFEST` was seen. */
  #finished = false;

  constructor(maxWalkBytes: number) {
    this.#maxWalkBytes = maxWalkBytes;
  }

  get finished(): boolean {
    return this.#finished;
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

  async end(): Promise<FreeBsdPackage> {
    if (!this.#input) await this.#start();
    const input = this.#input;
    const parsed = this.#parsed;
    if (!input || !parsed || this.#compression === undefined) throw badRequest(CORRUPT);
    if (!this.#finished) input.end();
    await parsed;
    if (this.#failure !== undefined) throw this.#failure;
    const [member, text] =
      this.#compact !== undefined
        ? (['+COMPACT_MANIFEST', this.#compact] as const)
        : this.#full !== undefined
          ? (['+MANIFEST', this.#full] as const)
          : [];
    if (member === undefined) throw badRequest('invalid package: no manifest');
    return { manifest: parseManifest(text), compression: this.#compression, member };
  }

  abort(): void {
    this.#input?.destroy();
  }

  async #start(): Promise<void> {
    const head = Buffer.concat(this.#head);
    this.#head = [];
    const compression = sniffCompression(head);
    if (compression === undefined) {
      // freebsd.md §3.1: bzip2 is a pkg format we do not read.
      if (head.subarray(0, 3).equals(BZIP2_MAGIC)) throw badRequest('invalid package: unsupported compression bzip2');
      throw badRequest('invalid package: unknown compression');
    }
    this.#compression = compression;
    const input = new PassThrough();
    const tar = extract();
    tar.on('entry', (header, entry, next) => {
      entry.on('error', () => {}); // it fails with the archive, which reports the cause
      this.#onEntry(header, entry).then(
        (more) => {
          if (more) next();
          else this.#finish();
        },
        (err: unknown) => {
          this.#entryFailure ??= err;
          next(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
    this.#input = input;
    this.#tar = tar;
    this.#parsed = pipeline(input, decompressor(compression), byteLimit(this.#maxWalkBytes, () => badRequest('invalid package: leading + members too large')), tar).catch((err: unknown) => {
      if (!this.#finished) this.#failure ??= this.#entryFailure ?? err;
    });
    await this.#feed(head);
  }

  /** The manifest is known: stop decompressing; the rest of the body is only drained. */
  #finish(): void {
    this.#finished = true;
    // The archive's end, not just the input: the input may have ended already.
    this.#tar?.destroy();
    this.#input?.destroy();
  }

  async #feed(chunk: Buffer): Promise<void> {
    const input = this.#input;
    if (this.#finished) return;
    if (input && !input.destroyed) {
      if (input.write(chunk)) return;
      await whenWritable(input);
      if (!input.destroyed || this.#finished) return;
    }
    // The archive failed and took the input down: its pipeline settles with the reason.
    await this.#parsed;
    if (this.#finished) return;
    throw this.#failure ?? badRequest(CORRUPT);
  }

  /** Handles one member; false once the walk is over (freebsd.md §3.2). */
  async #onEntry(header: Header, entry: TarEntry): Promise<boolean> {
    const name = header.name;
    // pkg looks at members only while their names start with `+`; `./+MANIFEST` ends the walk.
    if (!name.startsWith('+')) return false;
    if (name === '+COMPACT_MANIFEST') {
      this.#compact = await readText(entry, header.size ?? 0, name);
      return false;
    }
    if (name === '+MANIFEST') {
      if (this.#full !== undefined) throw badRequest('invalid package: duplicate +MANIFEST');
      this.#full = await readText(entry, header.size ?? 0, name);
      return true;
    }
    await drainTarEntry(entry);
    return true;
  }
}

/** A manifest member as UTF-8 text, within its cap. */
async function readText(entry: TarEntry, declaredBytes: number, member: ManifestMember): Promise<string> {
  if (declaredBytes > CAPS[member]) throw badRequest(`invalid package: ${member}: larger than ${CAP_TEXT[member]}`);
  const bytes = await readTarEntry(entry, () => badRequest(CORRUPT));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badRequest('invalid package: manifest is not JSON');
  }
}
