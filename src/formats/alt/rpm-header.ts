import { badRequest } from '../../errors.js';

// The RPM header structure (alt.md §3.2), shared by a package's signature and main headers
// and by every pkglist entry. Nothing here is Alt-specific: a dnf/yum type can reuse it.

/** `8E AD E8 01`: the first bytes of every header. */
export const HEADER_MAGIC: Buffer = Buffer.from([0x8e, 0xad, 0xe8, 0x01]);
/** Magic, 4 reserved bytes, `nindex`, `hsize`. */
export const HEADER_INTRO_BYTES = 16;
/** Tag, type, offset, count: four big-endian u32. */
export const INDEX_ENTRY_BYTES = 16;
export const MAX_HEADER_ENTRIES = 65535;
export const DEFAULT_MAX_STORE_BYTES = 64 * 1024 * 1024;

/** The value types of header entries. */
export const RPM_TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;
export type RpmTypeCode = (typeof RPM_TYPE)[keyof typeof RPM_TYPE];

const INTEGER_WIDTH: Readonly<Record<number, number>> = {
  [RPM_TYPE.CHAR]: 1,
  [RPM_TYPE.INT8]: 1,
  [RPM_TYPE.INT16]: 2,
  [RPM_TYPE.INT32]: 4,
  [RPM_TYPE.INT64]: 8,
};
const STRING_TYPES: ReadonlySet<number> = new Set([RPM_TYPE.STRING, RPM_TYPE.STRING_ARRAY, RPM_TYPE.I18NSTRING]);

const MALFORMED = 'malformed RPM header';

/** What the 16-byte intro of a header says about the rest of it. */
export interface HeaderIntro {
  readonly entries: number;
  readonly storeBytes: number;
  /** Intro, index and store: the header's whole length. */
  readonly totalBytes: number;
}

/**
 * Reads a header's intro (alt.md §3.2): the magic, then sizes within the caps. `notHeader` is
 * the message when the magic is wrong (a package says `file is not an RPM`).
 */
export function parseHeaderIntro(
  intro: Buffer,
  maxStoreBytes: number = DEFAULT_MAX_STORE_BYTES,
  notHeader = MALFORMED,
): HeaderIntro {
  if (intro.length < HEADER_INTRO_BYTES || !intro.subarray(0, 4).equals(HEADER_MAGIC)) throw badRequest(notHeader);
  const entries = intro.readUInt32BE(8);
  const storeBytes = intro.readUInt32BE(12);
  if (entries > MAX_HEADER_ENTRIES) throw badRequest(MALFORMED);
  if (storeBytes > maxStoreBytes) throw badRequest('RPM header is too large');
  return { entries, storeBytes, totalBytes: HEADER_INTRO_BYTES + entries * INDEX_ENTRY_BYTES + storeBytes };
}

/** One index entry of a header. */
export interface HeaderEntry {
  readonly tag: number;
  readonly type: number;
  readonly offset: number;
  readonly count: number;
}

/**
 * A parsed header: every entry checked against its store when parsed, values read on demand.
 * Accessors take the first entry with a tag; integers of any width are widened to numbers.
 */
export class RpmHeader {
  /** The header's bytes: intro, index and store. */
  readonly bytes: Buffer;
  readonly #store: Buffer;
  readonly #entries: ReadonlyMap<number, HeaderEntry>;

  private constructor(bytes: Buffer, store: Buffer, entries: ReadonlyMap<number, HeaderEntry>) {
    this.bytes = bytes;
    this.#store = store;
    this.#entries = entries;
  }

  /** Parses a whole header (intro, index, store); 400 for anything out of bounds. */
  static parse(bytes: Buffer, maxStoreBytes: number = DEFAULT_MAX_STORE_BYTES): RpmHeader {
    const intro = parseHeaderIntro(bytes, maxStoreBytes);
    if (bytes.length !== intro.totalBytes) throw badRequest(MALFORMED);
    const storeStart = HEADER_INTRO_BYTES + intro.entries * INDEX_ENTRY_BYTES;
    const store = bytes.subarray(storeStart);
    const entries = new Map<number, HeaderEntry>();
    for (let i = 0; i < intro.entries; i++) {
      const at = HEADER_INTRO_BYTES + i * INDEX_ENTRY_BYTES;
      const entry: HeaderEntry = {
        tag: bytes.readUInt32BE(at),
        type: bytes.readUInt32BE(at + 4),
        offset: bytes.readUInt32BE(at + 8),
        count: bytes.readUInt32BE(at + 12),
      };
      checkEntry(entry, store);
      if (!entries.has(entry.tag)) entries.set(entry.tag, entry);
    }
    return new RpmHeader(bytes, store, entries);
  }

  has(tag: number): boolean {
    return this.#entries.has(tag);
  }

  entry(tag: number): HeaderEntry | undefined {
    return this.#entries.get(tag);
  }

  /** Every string of a STRING, STRING_ARRAY or I18NSTRING entry, as raw bytes. */
  rawStrings(tag: number): Buffer[] {
    const e = this.#entries.get(tag);
    if (!e || !STRING_TYPES.has(e.type)) return [];
    const out: Buffer[] = [];
    let at = e.offset;
    for (let i = 0; i < e.count; i++) {
      const end = this.#store.indexOf(0, at);
      out.push(this.#store.subarray(at, end));
      at = end + 1;
    }
    return out;
  }

  /** The first string (an I18NSTRING's default locale), as raw bytes. */
  rawString(tag: number): Buffer | undefined {
    return this.rawStrings(tag)[0];
  }

  strings(tag: number): string[] {
    return this.rawStrings(tag).map((b) => b.toString('utf8'));
  }

  string(tag: number): string | undefined {
    return this.rawString(tag)?.toString('utf8');
  }

  /** Every integer of a CHAR, INT8, INT16, INT32 or INT64 entry, unsigned, widened. */
  integers(tag: number): number[] {
    const e = this.#entries.get(tag);
    const width = e && INTEGER_WIDTH[e.type];
    if (!e || !width) return [];
    const out: number[] = [];
    for (let i = 0; i < e.count; i++) {
      const at = e.offset + i * width;
      out.push(width === 8 ? Number(this.#store.readBigUInt64BE(at)) : this.#store.readUIntBE(at, width));
    }
    return out;
  }

  integer(tag: number): number | undefined {
    const e = this.#entries.get(tag);
    return e && e.count > 0 ? this.integers(tag)[0] : undefined;
  }

  /** The bytes of a BIN entry. */
  binary(tag: number): Buffer | undefined {
    const e = this.#entries.get(tag);
    if (!e || e.type !== RPM_TYPE.BIN) return undefined;
    return this.#store.subarray(e.offset, e.offset + e.count);
  }
}

/** Every entry must lie inside the store, and each of its strings must end there. */
function checkEntry(e: HeaderEntry, store: Buffer): void {
  if (e.type === RPM_TYPE.NULL) return;
  if (e.offset > store.length) throw badRequest(MALFORMED);
  const width = INTEGER_WIDTH[e.type] ?? (e.type === RPM_TYPE.BIN ? 1 : undefined);
  if (width !== undefined) {
    if (e.offset + e.count * width > store.length) throw badRequest(MALFORMED);
    return;
  }
  if (!STRING_TYPES.has(e.type)) throw badRequest(MALFORMED);
  // Each string takes at least its NUL: more strings than bytes cannot fit.
  if (e.count === 0 || e.count > store.length - e.offset) throw badRequest(MALFORMED);
  let at = e.offset;
  for (let i = 0; i < e.count; i++) {
    const end = store.indexOf(0, at);
    if (end < 0) throw badRequest(MALFORMED);
    at = end + 1;
  }
}

// ---------------------------------------------------------------- writing

/** A string value: text (written as UTF-8) or raw bytes, kept as they are. */
export type TextBytes = string | Uint8Array;

/** One entry to write, in the order given. */
export type WriteEntry =
  | { readonly tag: number; readonly type: typeof RPM_TYPE.INT32; readonly values: readonly number[] }
  | {
      readonly tag: number;
      readonly type: typeof RPM_TYPE.STRING | typeof RPM_TYPE.I18NSTRING;
      readonly value: TextBytes;
    }
  | { readonly tag: number; readonly type: typeof RPM_TYPE.STRING_ARRAY; readonly values: readonly TextBytes[] };

const NUL = Buffer.alloc(1);
const bytesOf = (v: TextBytes): Buffer => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v));

/**
 * Writes a header whose index follows `entries` in the order given, values appended to the
 * store in the same order (alt.md §5.1): no region tag, no sorting. Before an INT32 value the
 * store is padded with NULs to a multiple of 4; the padding belongs to no entry.
 */
export function writeHeader(entries: readonly WriteEntry[]): Buffer {
  const index = Buffer.alloc(entries.length * INDEX_ENTRY_BYTES);
  const parts: Buffer[] = [];
  let size = 0;
  const append = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  entries.forEach((e, i) => {
    let count: number;
    if (e.type === RPM_TYPE.INT32) {
      const pad = (4 - (size % 4)) % 4;
      if (pad) append(Buffer.alloc(pad));
    }
    const offset = size;
    switch (e.type) {
      case RPM_TYPE.INT32: {
        const b = Buffer.alloc(4 * e.values.length);
        e.values.forEach((v, j) => b.writeUInt32BE(v >>> 0, 4 * j));
        append(b);
        count = e.values.length;
        break;
      }
      case RPM_TYPE.STRING:
      case RPM_TYPE.I18NSTRING:
        append(bytesOf(e.value));
        append(NUL);
        count = 1;
        break;
      case RPM_TYPE.STRING_ARRAY:
        for (const v of e.values) {
          append(bytesOf(v));
          append(NUL);
        }
        count = e.values.length;
        break;
    }
    const at = i * INDEX_ENTRY_BYTES;
    index.writeUInt32BE(e.tag, at);
    index.writeUInt32BE(e.type, at + 4);
    index.writeUInt32BE(offset, at + 8);
    index.writeUInt32BE(count, at + 12);
  });
  const intro = Buffer.alloc(HEADER_INTRO_BYTES);
  HEADER_MAGIC.copy(intro, 0);
  intro.writeUInt32BE(entries.length, 8);
  intro.writeUInt32BE(size, 12);
  return Buffer.concat([intro, index, ...parts]);
}
