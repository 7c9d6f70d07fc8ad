import { Duplex } from 'node:stream';
import { Decompress } from 'fzstd';
import { Xxh64 } from './xxhash64.js';

// libzstd refuses larger windows unless told otherwise (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27), so
// pacman cannot read such packages either. fzstd would allocate whatever a header claims.
const MAX_WINDOW_BYTES = 2 ** 27;

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC = 0x184d2a50; // the low nibble is free
const BLOCK_RLE = 1;
const BLOCK_RESERVED = 3;

type Phase =
  | 'magic'
  | 'frameHeader'
  | 'blockHeader'
  | 'blockBody'
  | 'checksum'
  | 'skippableSize'
  | 'skippableBody';

/** What the last byte of a span completed. */
type ScanEvent = 'none' | 'zstdMagic' | 'skippableMagic' | 'blockEnd' | 'frameEnd';

interface Span {
  readonly bytes: number;
  readonly phase: Phase;
  readonly event: ScanEvent;
}

const littleEndian = (bytes: readonly number[], from: number, count: number): number => {
  let value = 0;
  for (let i = count - 1; i >= 0; i--) value = value * 256 + (bytes[from + i] ?? 0);
  return value;
};

/**
 * Walks the frame and block headers of a zstd stream (RFC 8878 §3.1) without decoding, so the
 * decoder can be fed one block at a time, frames can be checked against their checksums, and
 * windows too large to allocate are refused before fzstd allocates them.
 */
class FrameScanner {
  #phase: Phase = 'magic';
  #need = 4;
  #header: number[] = [];
  #skip = 0;
  #hasChecksum = false;
  #lastBlock = false;
  /** The current frame's content checksum, once its four bytes are read. */
  checksum: number | undefined;

  /** Between frames: where a stream may end. */
  get atFrameBoundary(): boolean {
    return this.#phase === 'magic' && this.#header.length === 0;
  }

  /** The bytes of `chunk` from `at` up to the end of the current phase or of the chunk. */
  span(chunk: Uint8Array, at: number): Span {
    const phase = this.#phase;
    if (phase === 'blockBody' || phase === 'skippableBody') {
      const bytes = Math.min(this.#skip, chunk.length - at);
      this.#skip -= bytes;
      return { bytes, phase, event: this.#skip === 0 ? this.#endBody() : 'none' };
    }
    let i = at;
    while (i < chunk.length) {
      this.#header.push(chunk[i++] ?? 0);
      if (this.#header.length === this.#need) {
        const event = this.#endHeader();
        if (event !== undefined) return { bytes: i - at, phase, event };
      }
    }
    return { bytes: i - at, phase, event: 'none' };
  }

  #enter(phase: Phase, need: number): void {
    this.#phase = phase;
    this.#need = need;
    this.#header = [];
  }

  #body(phase: 'blockBody' | 'skippableBody', bytes: number): void {
    this.#enter(phase, 0);
    this.#skip = bytes;
  }

  #endBody(): ScanEvent {
    if (this.#phase === 'skippableBody') {
      this.#enter('magic', 4);
      return 'none';
    }
    if (!this.#lastBlock) this.#enter('blockHeader', 3);
    else if (this.#hasChecksum) this.#enter('checksum', 4);
    else {
      this.#enter('magic', 4);
      return 'frameEnd';
    }
    return 'blockEnd';
  }

  /** Interprets a complete header; undefined while the header turns out to need more bytes. */
  #endHeader(): ScanEvent | undefined {
    const h = this.#header;
    switch (this.#phase) {
      case 'magic': {
        const magic = littleEndian(h, 0, 4);
        if (magic === FRAME_MAGIC) {
          this.checksum = undefined;
          this.#enter('frameHeader', 1);
          return 'zstdMagic';
        }
        if (magic - (magic % 16) === SKIPPABLE_MAGIC) {
          this.#enter('skippableSize', 4);
          return 'skippableMagic';
        }
        throw new Error('invalid zstd frame magic');
      }
      case 'frameHeader':
        return this.#frameHeader(h);
      case 'blockHeader': {
        const value = littleEndian(h, 0, 3);
        const type = (value >> 1) & 3;
        if (type === BLOCK_RESERVED) throw new Error('invalid zstd block type');
        this.#lastBlock = (value & 1) === 1;
        this.#body('blockBody', type === BLOCK_RLE ? 1 : value >>> 3);
        return this.#skip === 0 ? this.#endBody() : 'none';
      }
      case 'checksum':
        this.checksum = littleEndian(h, 0, 4);
        this.#enter('magic', 4);
        return 'frameEnd';
      case 'skippableSize':
        this.#body('skippableBody', littleEndian(h, 0, 4));
        return this.#skip === 0 ? this.#endBody() : 'none';
      default:
        return 'none';
    }
  }

  #frameHeader(h: number[]): ScanEvent | undefined {
    const descriptor = h[0] ?? 0;
    const singleSegment = (descriptor & 0x20) !== 0;
    const dictionaryBytes = [0, 1, 2, 4][descriptor & 3] ?? 0;
    const sizeFlag = descriptor >> 6;
    const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : 2 ** sizeFlag;
    const total = 1 + (singleSegment ? 0 : 1) + dictionaryBytes + sizeBytes;
    if (h.length < total) {
      if ((descriptor & 0x08) !== 0) throw new Error('invalid zstd frame header');
      if (dictionaryBytes > 0) throw new Error('zstd dictionaries are not supported');
      this.#need = total;
      return undefined;
    }
    let window: number;
    if (singleSegment) {
      window = littleEndian(h, h.length - sizeBytes, sizeBytes) + (sizeBytes === 2 ? 256 : 0);
    } else {
      const windowDescriptor = h[1] ?? 0;
      const base = 2 ** (10 + (windowDescriptor >> 3));
      window = base + (base / 8) * (windowDescriptor & 7);
    }
    if (window > MAX_WINDOW_BYTES) throw new Error('zstd window too large');
    this.#hasChecksum = (descriptor & 0x04) !== 0;
    this.#enter('blockHeader', 3);
    return 'none';
  }
}

/**
 * A streaming zstd decoder (fzstd) with backpressure: input is fed one block at a time, and the
 * next block waits until the reader has taken the output. Each frame gets its own fzstd decoder,
 * so its end is known and its content checksum (which fzstd skips) is verified. Corrupt or
 * truncated input fails the stream with an error.
 */
export class ZstdDecompressor extends Duplex {
  readonly #scanner = new FrameScanner();
  #frame: Decompress | undefined;
  #hash: Xxh64 | undefined;
  #magic: Uint8Array[] = [];
  #room = true;
  #waiting = false;
  #job: { chunk: Buffer; offset: number; done: (err?: Error) => void } | undefined;

  constructor() {
    super({ readableHighWaterMark: 256 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error) => void): void {
    this.#job = { chunk, offset: 0, done };
    this.#pump();
  }

  override _final(done: (err?: Error) => void): void {
    if (!this.#scanner.atFrameBoundary) {
      done(new Error('truncated zstd stream'));
      return;
    }
    this.push(null);
    done();
  }

  override _read(): void {
    this.#room = true;
    if (this.#waiting) {
      this.#waiting = false;
      this.#pump();
    }
  }

  #pump(): void {
    const job = this.#job;
    if (!job) return;
    try {
      while (job.offset < job.chunk.length) {
        if (!this.#room) {
          this.#waiting = true;
          return;
        }
        const span = this.#scanner.span(job.chunk, job.offset);
        this.#take(job.chunk.subarray(job.offset, job.offset + span.bytes), span);
        job.offset += span.bytes;
      }
    } catch (err) {
      this.#job = undefined;
      job.done(err instanceof Error ? err : new Error(`zstd: ${String(err)}`));
      return;
    }
    this.#job = undefined;
    job.done();
  }

  #take(bytes: Uint8Array, span: Span): void {
    switch (span.phase) {
      case 'magic':
        this.#magic.push(bytes);
        if (span.event === 'zstdMagic') this.#startFrame();
        if (span.event !== 'none') this.#magic = [];
        return;
      case 'skippableSize':
      case 'skippableBody':
        return; // skippable frames carry no content
      default:
        this.#frame?.push(bytes);
        if (span.event === 'frameEnd') this.#endFrame();
    }
  }

  #startFrame(): void {
    const hash = new Xxh64();
    this.#hash = hash;
    this.#frame = new Decompress((data) => {
      if (data.length === 0) return;
      hash.update(data);
      this.#room = this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
    for (const part of this.#magic) this.#frame.push(part);
  }

  #endFrame(): void {
    this.#frame?.push(new Uint8Array(0), true);
    const expected = this.#scanner.checksum;
    // The low 32 bits of XXH64 over the frame's content (RFC 8878 §3.1.1).
    if (expected !== undefined && Number((this.#hash?.digest() ?? 0n) & 0xffffffffn) !== expected) {
      throw new Error('zstd checksum mismatch');
    }
    this.#frame = undefined;
    this.#hash = undefined;
  }
}
