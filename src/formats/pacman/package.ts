import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import type { ExtractEvents, Header } from 'tar-stream';
import { byteLimit } from '../../codecs/limit.js';
import { decompressor } from '../../codecs/decompress.js';
import { SNIFF_BYTES, sniffCompression } from '../../codecs/sniff.js';
import type { Compression } from '../../codecs/sniff.js';
import { badRequest, isHttpError } from '../../errors.js';
import type { HttpError } from '../../errors.js';
import { parsePkginfo, validatePkginfo } from './pkginfo.js';
import type { Pkginfo, Surface } from './pkginfo.js';

export type { Compression } from '../../codecs/sniff.js';

/** What readPackage learns from one package file. */
export interface PacmanPackage {
  readonly info: Pkginfo;
  /** Payload paths in byte order, deduplicated; directories end with `/`. */
  readonly files: readonly string[];
  readonly compression: Compression;
  /** `{name}-{version}-{arch}.pkg.tar{.ext}`: the name it is stored and served under. */
  readonly fileName: string;
  /** `{name}-{version}`: its directory inside the databases. */
  readonly dir: string;
}

export interface ReadPackageOptions {
  /** Decompressed bytes past which the package is refused: bounds the work a small bomb causes. */
  readonly maxUnpackedBytes?: number;
}

const MAX_PKGINFO_BYTES = 1024 * 1024;
const DEFAULT_MAX_UNPACKED_BYTES = 2 ** 35;
// One message for every decoder or tar failure: library texts are not for clients.
const CORRUPT = 'corrupt or truncated package';

const SUFFIXES: Readonly<Record<Compression, string>> = {
  zst: '.zst',
  xz: '.xz',
  gz: '.gz',
  tar: '',
};

/** The part of the file name after `.pkg.tar`: `.zst`, `.xz`, `.gz`, or `''` for plain tar. */
export const compressionSuffix = (compression: Compression): string => SUFFIXES[compression];

// pacman.md §3.4
export const packageFileName = (
  info: Pick<Pkginfo, 'name' | 'version' | 'arch'>,
  compression: Compression,
): string => `${info.name}-${info.version}-${info.arch}.pkg.tar${compressionSuffix(compression)}`;

export const packageDir = (info: Pick<Pkginfo, 'name' | 'version'>): string =>
  `${info.name}-${info.version}`;

/** Byte order of the UTF-8 encodings, as `LC_ALL=C sort` and pacman compare names. */
export const compareBytes = (a: string, b: string): number =>
  Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/**
 * Reads a package in one streaming pass (pacman.md §3.2): sniffs its compression, parses and
 * validates `.PKGINFO` for `surface`, and lists the payload. Consumes `body` to its end even
 * when the package is bad, since the caller hashes and stores the same bytes, and never
 * destroys it. Bad packages reject with a 400; an error of `body` itself is passed on as is.
 */
export async function readPackage(
  body: Readable,
  surface: Surface,
  options: ReadPackageOptions = {},
): Promise<PacmanPackage> {
  const reader = new PackageReader(surface, options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES);
  let failure: HttpError | undefined;
  try {
    for await (const chunk of body.iterator({ destroyOnReturn: false })) {
      if (failure) continue; // drain: the caller's other branches still need the bytes
      try {
        await reader.write(toBuffer(chunk));
      } catch (err) {
        failure = asBadRequest(err);
        reader.abort();
      }
    }
    if (failure) throw failure;
    try {
      return await reader.end();
    } catch (err) {
      throw asBadRequest(err);
    }
  } finally {
    reader.abort();
  }
}

const toBuffer = (chunk: unknown): Buffer =>
  Buffer.isBuffer(chunk)
    ? chunk
    : typeof chunk === 'string'
      ? Buffer.from(chunk)
      : Buffer.from(chunk as Uint8Array);

const asBadRequest = (err: unknown): HttpError =>
  isHttpError(err) && err.status === 400 ? err : badRequest(CORRUPT);

/** Resolves once `stream` can take more, or has closed (its pipeline then tells why). */
const writable = (stream: PassThrough): Promise<void> =>
  new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });

/** One tar entry's body: a streamx Readable. */
type EntryStream = ExtractEvents['entry'][1];

class PackageReader {
  readonly #surface: Surface;
  readonly #maxUnpackedBytes: number;
  #head: Buffer[] = [];
  #headBytes = 0;
  #compression: Compression | undefined;
  #input: PassThrough | undefined;
  #parsed: Promise<void> | undefined;
  #failure: unknown;
  #entryFailure: unknown;
  #info: Pkginfo | undefined;
  #sawPkginfo = false;
  #sawMtree = false;
  readonly #files = new Set<string>();

  constructor(surface: Surface, maxUnpackedBytes: number) {
    this.#surface = surface;
    this.#maxUnpackedBytes = maxUnpackedBytes;
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

  async end(): Promise<PacmanPackage> {
    if (!this.#input) await this.#start();
    const input = this.#input;
    const parsed = this.#parsed;
    if (!input || !parsed || this.#compression === undefined) throw badRequest(CORRUPT);
    input.end();
    await parsed;
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#info) throw badRequest('.PKGINFO file not found');
    if (!this.#sawMtree && this.#surface === 'arch') throw badRequest('.MTREE file not found');
    return {
      info: this.#info,
      files: [...this.#files].sort(compareBytes),
      compression: this.#compression,
      fileName: packageFileName(this.#info, this.#compression),
      dir: packageDir(this.#info),
    };
  }

  abort(): void {
    this.#input?.destroy();
  }

  async #start(): Promise<void> {
    const head = Buffer.concat(this.#head);
    this.#head = [];
    const compression = sniffCompression(head);
    // pacman.md §3.1: Forgejo takes compressed packages only.
    if (compression === undefined || (compression === 'tar' && this.#surface === 'arch')) {
      throw badRequest('not supported compression');
    }
    this.#compression = compression;
    const input = new PassThrough();
    const tar = extract();
    tar.on('entry', (header, entry, next) => {
      entry.on('error', () => {}); // it fails with the archive, which reports the cause
      this.#onEntry(header, entry).then(
        () => next(),
        (err: unknown) => {
          this.#entryFailure ??= err;
          next(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
    this.#input = input;
    this.#parsed = pipeline(input, decompressor(compression), byteLimit(this.#maxUnpackedBytes, () => badRequest('package is too large when unpacked')), tar).catch(
      (err: unknown) => {
        this.#failure ??= this.#entryFailure ?? err;
      },
    );
    await this.#feed(head);
  }

  async #feed(chunk: Buffer): Promise<void> {
    const input = this.#input;
    if (input && !input.destroyed) {
      if (input.write(chunk)) return;
      await writable(input);
      if (!input.destroyed) return;
    }
    // The archive failed and took the input down: its pipeline settles with the reason.
    await this.#parsed;
    throw this.#failure ?? badRequest(CORRUPT);
  }

  async #onEntry(header: Header, entry: EntryStream): Promise<void> {
    const name = header.name;
    // pacman.md §3.2: absolute paths and `..` segments are refused, never resolved.
    if (
      name === '' ||
      name.startsWith('/') ||
      name.includes('\n') ||
      name.split('/').includes('..')
    ) {
      throw badRequest('invalid path in package');
    }
    if (name === '.PKGINFO') {
      if (this.#sawPkginfo) throw badRequest('duplicate .PKGINFO file');
      this.#sawPkginfo = true;
      const text = await readText(entry, header.size);
      this.#info = validatePkginfo(parsePkginfo(text), this.#surface);
      return;
    }
    if (name === '.MTREE') this.#sawMtree = true;
    // repo-add lists with `--exclude='^.*'`: every name starting with a dot stays out, nested
    // dotfiles (`usr/.hidden`) do not (F6).
    else if (!name.startsWith('.')) {
      this.#files.add(header.type === 'directory' && !name.endsWith('/') ? `${name}/` : name);
    }
    await drain(entry);
  }
}

/** `.PKGINFO` as UTF-8 text, refusing more than MAX_PKGINFO_BYTES. */
async function readText(entry: EntryStream, declaredBytes: number): Promise<string> {
  if (declaredBytes > MAX_PKGINFO_BYTES) throw badRequest('.PKGINFO file is too large');
  const parts: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    entry.on('data', (part: unknown) => parts.push(toBuffer(part)));
    entry.on('end', resolve);
    entry.on('error', reject);
    entry.on('close', () => reject(badRequest(CORRUPT))); // after `end` this changes nothing
  });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(parts));
  } catch {
    throw badRequest('.PKGINFO is not valid UTF-8');
  }
}

/** Reads an entry's body to its end without keeping it. */
function drain(entry: EntryStream): Promise<void> {
  return new Promise((resolve, reject) => {
    entry.on('end', resolve);
    entry.on('error', reject);
    entry.on('close', resolve); // destroyed with the archive: the pipeline reports why
    entry.resume();
  });
}
