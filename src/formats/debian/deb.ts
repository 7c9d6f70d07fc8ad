import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, type Header } from 'tar-stream';
import { feedBody, type ChunkSink } from '../../codecs/chunk-sink.js';
import { decompressor } from '../../codecs/decompress.js';
import { byteLimit } from '../../codecs/limit.js';
import type { Compression } from '../../codecs/sniff.js';
import { chunkBuffer, drainTarEntry, type TarEntry } from '../../codecs/tar-entry.js';
import { badRequest, isHttpError, type HttpError } from '../../errors.js';
import { compareBytes, parseControl, validateControl, type DebControl } from './control.js';

/** What one streaming pass over a `.deb` learns (debian.md §3). */
export interface DebInfo {
  readonly control: DebControl;
  /** Non-directory paths of `data.tar`, `./` stripped, sorted bytewise, deduplicated. */
  readonly contents: readonly string[];
}

export interface ReadDebOptions {
  /** Decompressed bytes of `control.tar*` past which the package is refused. */
  readonly maxControlTarBytes?: number;
  /** Bytes of the `control` file itself. */
  readonly maxControlBytes?: number;
}

// debian.md §3.1 messages.
export const NOT_AR = 'invalid .deb: not an ar archive';
export const BAD_HEADER = 'invalid .deb: bad ar header';
export const BAD_FORMAT_VERSION = 'invalid .deb: unsupported format version';
export const TRUNCATED = 'invalid .deb: truncated archive';
export const NO_CONTROL = 'control file is missing';
export const BAD_COMPRESSION = 'unsupported compression algorithm';
export const BAD_CONTROL_ARCHIVE = 'invalid .deb: unreadable control archive';
export const CONTROL_TOO_LARGE = 'invalid .deb: control file too large';
export const CONTROL_NOT_UTF8 = 'control file is not valid UTF-8';

const MAGIC = Buffer.from('!<arch>\n');
const HEADER_BYTES = 60;
const DEFAULT_MAX_CONTROL_TAR_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_CONTROL_BYTES = 2 * 1024 * 1024;

const SUFFIXES: Readonly<Record<string, Compression>> = { '': 'tar', '.gz': 'gz', '.xz': 'xz', '.zst': 'zst' };

/** One ar member header (debian.md §3.1). */
export interface ArHeader {
  readonly name: string;
  readonly size: number;
}

/** Parses a 60-byte ar member header; names trimmed, one trailing `/` dropped. */
export function parseArHeader(bytes: Buffer): ArHeader {
  if (bytes.length !== HEADER_BYTES || bytes[58] !== 0x60 || bytes[59] !== 0x0a) throw badRequest(BAD_HEADER);
  const field = (from: number, to: number) => bytes.subarray(from, to).toString('latin1').trim();
  let name = field(0, 16);
  if (name.endsWith('/') && name !== '/' && name !== '//') name = name.slice(0, -1);
  const sizeText = field(48, 58);
  if (!/^\d+$/.test(sizeText)) throw badRequest(BAD_HEADER);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw badRequest(BAD_HEADER);
  return { name, size };
}

/** How one member's bytes are consumed. */
interface MemberSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
  abort(): void;
}

const discard: MemberSink = { write: async () => {}, end: async () => {}, abort: () => {} };

/** Collects a small member in memory, failing past `max` bytes. */
class Collect implements MemberSink {
  readonly parts: Buffer[] = [];
  private bytes = 0;
  private readonly max: number;
  private readonly tooLarge: () => HttpError;
  constructor(max: number, tooLarge: () => HttpError) {
    this.max = max;
    this.tooLarge = tooLarge;
  }
  async write(chunk: Buffer) {
    this.bytes += chunk.length;
    if (this.bytes > this.max) throw this.tooLarge();
    this.parts.push(chunk);
  }
  async end() {}
  abort() {}
  get data(): Buffer {
    return Buffer.concat(this.parts);
  }
}


/** Strips `./` (or leading slashes) from a data.tar path (A13: never blindly two characters). */
function contentsPath(name: string): string {
  if (name.startsWith('./')) return name.slice(2);
  return name.replace(/^\/+/, '');
}

/**
 * Lists `data.tar*` while it streams. Never fails the upload: a member we cannot read gives an
 * empty list (debian.md §3.1).
 */
class DataLister implements MemberSink {
  private readonly input = new PassThrough({ highWaterMark: 256 * 1024 });
  private readonly paths = new Set<string>();
  private readonly done: Promise<boolean>;
  private settled = false;
  private failed = false;

  constructor(kind: Compression) {
    const tar = extract();
    tar.on('entry', (header: Header, entry: TarEntry, next: (err?: Error | null) => void) => {
      entry.on('error', () => {});
      if (header.type !== 'directory') {
        const path = contentsPath(header.name);
        if (path !== '') this.paths.add(path);
      }
      drainTarEntry(entry).then(
        () => next(),
        (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
      );
    });
    this.done = pipeline(this.input, decompressor(kind), tar).then(
      () => true,
      () => false,
    );
    void this.done.then(() => {
      this.settled = true;
    });
  }

  async write(chunk: Buffer) {
    // A tar that ended (or broke) before its member did reads no more: skip the rest.
    if (this.settled || this.input.destroyed) return;
    if (!this.input.write(chunk)) {
      let go = () => {};
      const drained = new Promise<void>((resolve) => {
        go = () => resolve();
        this.input.on('drain', go);
        this.input.on('close', go);
      });
      await Promise.race([drained, this.done]);
      this.input.off('drain', go);
      this.input.off('close', go);
    }
  }

  async end() {
    if (!this.input.destroyed) this.input.end();
    this.failed = !(await this.done);
  }

  abort() {
    this.input.destroy();
  }

  get contents(): string[] {
    return this.failed ? [] : [...this.paths].sort(compareBytes);
  }
}

/** The `control` file of a `control.tar*` member, as UTF-8 text. */
export async function readControlTar(
  member: Buffer,
  kind: Compression,
  options: Required<ReadDebOptions> = {
    maxControlTarBytes: DEFAULT_MAX_CONTROL_TAR_BYTES,
    maxControlBytes: DEFAULT_MAX_CONTROL_BYTES,
  },
): Promise<string> {
  let control: Buffer | undefined;
  let failure: unknown;
  const tar = extract();
  tar.on('entry', (header: Header, entry: TarEntry, next: (err?: Error | null) => void) => {
    entry.on('error', () => {});
    const name = header.name;
    if (control === undefined && (name === 'control' || name === './control') && header.type === 'file') {
      if ((header.size ?? 0) > options.maxControlBytes) {
        const tooLarge = badRequest(CONTROL_TOO_LARGE);
        failure = tooLarge;
        next(tooLarge);
        return;
      }
      const parts: Buffer[] = [];
      entry.on('data', (c: unknown) => parts.push(chunkBuffer(c)));
      entry.on('end', () => {
        control = Buffer.concat(parts);
        next();
      });
      return;
    }
    drainTarEntry(entry).then(
      () => next(),
      (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
    );
  });
  const tooLarge = () => badRequest(CONTROL_TOO_LARGE);
  try {
    await pipeline(Readable.from([member]), decompressor(kind), byteLimit(options.maxControlTarBytes, tooLarge), tar);
  } catch (err) {
    if (isHttpError(failure ?? err)) throw failure ?? err;
    if (control === undefined) throw badRequest(BAD_CONTROL_ARCHIVE);
  }
  if (control === undefined) throw badRequest(NO_CONTROL);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(control);
  } catch {
    throw badRequest(CONTROL_NOT_UTF8);
  }
}

type Phase = 'magic' | 'header' | 'body' | 'pad';

/** The ar container as a state machine fed chunk by chunk. */
class DebParser implements ChunkSink<DebInfo> {
  private readonly options: Required<ReadDebOptions>;
  private phase: Phase = 'magic';
  private pending: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private sink: MemberSink = discard;
  private seenBytes = 0;
  private memberBytes = 0;
  private version: Collect | undefined;
  private controlMember: { collect: Collect; kind: Compression } | undefined;
  private data: DataLister | undefined;
  private sawData = false;

  constructor(options: Required<ReadDebOptions>) {
    this.options = options;
  }

  async write(chunk: Buffer): Promise<void> {
    this.seenBytes += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (this.phase === 'body') {
        const take = Math.min(this.remaining, chunk.length - at);
        if (take > 0) await this.sink.write(chunk.subarray(at, at + take));
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) await this.finishMember();
        continue;
      }
      if (this.phase === 'pad') {
        at++; // one byte aligns the next header to an even offset
        this.phase = 'header';
        continue;
      }
      const want = this.phase === 'magic' ? MAGIC.length : HEADER_BYTES;
      const take = Math.min(want - this.pending.length, chunk.length - at);
      this.pending = Buffer.concat([this.pending, chunk.subarray(at, at + take)]);
      at += take;
      if (this.phase === 'magic') {
        if (!MAGIC.subarray(0, this.pending.length).equals(this.pending)) throw badRequest(NOT_AR);
        if (this.pending.length === MAGIC.length) {
          this.pending = Buffer.alloc(0);
          this.phase = 'header';
        }
      } else if (this.pending.length === HEADER_BYTES) {
        const header = parseArHeader(this.pending);
        this.pending = Buffer.alloc(0);
        this.startMember(header);
        if (this.remaining === 0) await this.finishMember();
      }
    }
  }

  private startMember(header: ArHeader): void {
    this.phase = 'body';
    this.remaining = header.size;
    this.memberBytes = header.size;
    this.sink = discard;
    if (header.name === 'debian-binary' && !this.version) {
      this.version = new Collect(64, () => badRequest(BAD_FORMAT_VERSION));
      this.sink = this.version;
    } else if (header.name.startsWith('control.tar') && !this.controlMember) {
      const kind = SUFFIXES[header.name.slice('control.tar'.length)];
      if (kind === undefined) throw badRequest(BAD_COMPRESSION);
      const collect = new Collect(this.options.maxControlTarBytes, () => badRequest(CONTROL_TOO_LARGE));
      this.controlMember = { collect, kind };
      this.sink = collect;
    } else if (header.name.startsWith('data.tar') && !this.sawData) {
      this.sawData = true;
      const kind = SUFFIXES[header.name.slice('data.tar'.length)];
      if (kind !== undefined) {
        this.data = new DataLister(kind);
        this.sink = this.data;
      }
    }
  }

  private async finishMember(): Promise<void> {
    const sink = this.sink;
    this.sink = discard;
    await sink.end();
    if (sink === this.version && !this.version.data.toString('latin1').startsWith('2.')) {
      throw badRequest(BAD_FORMAT_VERSION);
    }
    this.phase = this.memberBytes % 2 === 1 ? 'pad' : 'header';
  }

  async end(): Promise<DebInfo> {
    if (this.seenBytes === 0) throw badRequest(NO_CONTROL);
    if (this.phase === 'magic') throw badRequest(this.pending.length === 0 ? NOT_AR : TRUNCATED);
    if (this.phase === 'body' || (this.phase === 'header' && this.pending.length > 0)) throw badRequest(TRUNCATED);
    if (!this.controlMember) throw badRequest(NO_CONTROL);
    const text = await readControlTar(this.controlMember.collect.data, this.controlMember.kind, this.options);
    const control = validateControl(parseControl(text));
    return { control, contents: this.data?.contents ?? [] };
  }

  abort(): void {
    this.sink.abort();
    this.data?.abort();
  }
}

const asBadRequest = (err: unknown): HttpError =>
  isHttpError(err) && err.status === 400 ? err : badRequest(BAD_CONTROL_ARCHIVE);

/**
 * Reads a `.deb` in one streaming pass (debian.md §3): the ar container, the control file
 * (parsed and validated) and the data member's path list. Consumes `body` to its end even when
 * the package is bad, since the caller hashes and stores the same bytes; never destroys it.
 */
export async function readDeb(body: Readable, options: ReadDebOptions = {}): Promise<DebInfo> {
  const parser = new DebParser({
    maxControlTarBytes: options.maxControlTarBytes ?? DEFAULT_MAX_CONTROL_TAR_BYTES,
    maxControlBytes: options.maxControlBytes ?? DEFAULT_MAX_CONTROL_BYTES,
  });
  return feedBody(body, parser, asBadRequest);
}
