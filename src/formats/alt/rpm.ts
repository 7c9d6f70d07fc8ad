import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { feedBody } from '../../codecs/chunk-sink.js';
import { badRequest, isHttpError, type HttpError } from '../../errors.js';
import {
  DEFAULT_MAX_STORE_BYTES,
  HEADER_INTRO_BYTES,
  RpmHeader,
  parseHeaderIntro,
} from './rpm-header.js';

// Reading an uploaded .rpm (alt.md §3) in one streaming pass. Not Alt-specific: a dnf/yum type
// can reuse it once it moves to a shared place.

/** Tags of the signature header. */
export const SIGNATURE_TAG = {
  SIZE: 1000,
  MD5: 1004,
  PAYLOAD_SIZE: 1007,
  SHA1: 269,
  LONG_SIZE: 270,
  SHA256: 273,
} as const;

/** Tags of the main header. */
export const TAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  SUMMARY: 1004,
  DESCRIPTION: 1005,
  BUILD_TIME: 1006,
  BUILD_HOST: 1007,
  SIZE: 1009,
  VENDOR: 1011,
  LICENSE: 1014,
  PACKAGER: 1015,
  GROUP: 1016,
  URL: 1020,
  ARCH: 1022,
  FILE_MODES: 1030,
  FILE_MTIMES: 1034,
  FILE_FLAGS: 1037,
  SOURCE_RPM: 1044,
  PROVIDE_NAME: 1047,
  REQUIRE_FLAGS: 1048,
  REQUIRE_NAME: 1049,
  REQUIRE_VERSION: 1050,
  CONFLICT_FLAGS: 1053,
  CONFLICT_NAME: 1054,
  CONFLICT_VERSION: 1055,
  CHANGELOG_TIME: 1080,
  CHANGELOG_NAME: 1081,
  CHANGELOG_TEXT: 1082,
  OBSOLETE_NAME: 1090,
  PROVIDE_FLAGS: 1112,
  PROVIDE_VERSION: 1113,
  OBSOLETE_FLAGS: 1114,
  OBSOLETE_VERSION: 1115,
  DIR_INDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
  LONG_SIZE: 5009,
} as const;

export const LEAD_BYTES = 96;
const LEAD_MAGIC = Buffer.from([0xed, 0xab, 0xee, 0xdb]);
const LEAD_TYPE_SOURCE = 1;
const NOT_RPM = 'file is not an RPM';

// ---------------------------------------------------------------- values of a header

/** How header strings come out: decoded text, or the raw bytes (alt.md D19). */
export interface TextCodec<S> {
  readonly empty: S;
  many(header: RpmHeader, tag: number): S[];
  join(a: S, b: S): S;
  text(s: S): string;
}

export const UTF8_TEXT: TextCodec<string> = {
  empty: '',
  many: (h, tag) => h.strings(tag),
  join: (a, b) => a + b,
  text: (s) => s,
};

export const RAW_TEXT: TextCodec<Buffer> = {
  empty: Buffer.alloc(0),
  many: (h, tag) => h.rawStrings(tag),
  join: (a, b) => Buffer.concat([a, b]),
  text: (s) => s.toString('utf8'),
};

export interface RpmDependency<S = string> {
  readonly name: S;
  /** Sense flags, u32. */
  readonly flags: number;
  readonly version: S;
}

export interface RpmChangelogEntry<S = string> {
  readonly time: number;
  readonly name: S;
  readonly text: S;
}

export interface RpmFile<S = string> {
  readonly path: S;
  readonly mode: number;
  readonly flags: number;
}

/** The package facts of alt.md §3.4. A missing optional string reads as empty, a number as 0. */
export interface RpmFields<S = string> {
  readonly name: S;
  /** Null when the header has no EPOCH (not 0). */
  readonly epoch: number | null;
  readonly version: S;
  readonly release: S;
  readonly arch: S;
  readonly summary: S;
  readonly description: S;
  readonly license: S;
  readonly group: S;
  readonly packager: S;
  readonly sourceRpm: S;
  /** Emptied unless an absolute http(s) URL with a valid port. */
  readonly url: S;
  readonly buildTime: number;
  readonly installedSize: number;
  readonly provides: readonly RpmDependency<S>[];
  readonly requires: readonly RpmDependency<S>[];
  readonly conflicts: readonly RpmDependency<S>[];
  readonly obsoletes: readonly RpmDependency<S>[];
  /** Every file, directories and ghosts included, in header order. */
  readonly files: readonly RpmFile<S>[];
  readonly changelog: readonly RpmChangelogEntry<S>[];
}

/** The fields as text, plus what a later RPM registry needs (alt.md §3.4, §14). */
export interface RpmMetadata extends RpmFields<string> {
  readonly vendor: string;
  readonly buildHost: string;
  /** The first FILEMTIMES value, 0 without files. */
  readonly fileTime: number;
}

const validUrl = (text: string): boolean => {
  try {
    const u = new URL(text);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host !== '';
  } catch {
    return false;
  }
};

function dependencies<S>(
  h: RpmHeader,
  codec: TextCodec<S>,
  nameTag: number,
  flagsTag: number,
  versionTag: number,
): RpmDependency<S>[] {
  const names = codec.many(h, nameTag);
  const flags = h.integers(flagsTag);
  const versions = codec.many(h, versionTag);
  if (names.length === 0 || names.length !== flags.length || names.length !== versions.length) return [];
  return names.map((name, i) => ({ name, flags: flags[i]!, version: versions[i]! }));
}

function files<S>(h: RpmHeader, codec: TextCodec<S>): RpmFile<S>[] {
  const basenames = codec.many(h, TAG.BASENAMES);
  const dirnames = codec.many(h, TAG.DIRNAMES);
  const indexes = h.integers(TAG.DIR_INDEXES);
  const modes = h.integers(TAG.FILE_MODES);
  const flags = h.integers(TAG.FILE_FLAGS);
  const out: RpmFile<S>[] = [];
  basenames.forEach((base, i) => {
    const dir = indexes[i] === undefined ? undefined : dirnames[indexes[i]!];
    if (dir === undefined) return;
    out.push({ path: codec.join(dir, base), mode: modes[i] ?? 0, flags: flags[i] ?? 0 });
  });
  return out;
}

function changelog<S>(h: RpmHeader, codec: TextCodec<S>): RpmChangelogEntry<S>[] {
  const times = h.integers(TAG.CHANGELOG_TIME);
  const names = codec.many(h, TAG.CHANGELOG_NAME);
  const texts = codec.many(h, TAG.CHANGELOG_TEXT);
  if (times.length === 0 || times.length !== names.length || times.length !== texts.length) return [];
  return times.map((time, i) => ({ time, name: names[i]!, text: texts[i]! }));
}

/** Reads the §3.4 fields of a main header, as text or as raw bytes. */
export function readFields<S>(h: RpmHeader, codec: TextCodec<S>): RpmFields<S> {
  const one = (tag: number): S => codec.many(h, tag)[0] ?? codec.empty;
  const url = one(TAG.URL);
  return {
    name: one(TAG.NAME),
    epoch: h.integer(TAG.EPOCH) ?? null,
    version: one(TAG.VERSION),
    release: one(TAG.RELEASE),
    arch: one(TAG.ARCH),
    summary: one(TAG.SUMMARY),
    description: one(TAG.DESCRIPTION),
    license: one(TAG.LICENSE),
    group: one(TAG.GROUP),
    packager: one(TAG.PACKAGER),
    sourceRpm: one(TAG.SOURCE_RPM),
    url: validUrl(codec.text(url)) ? url : codec.empty,
    buildTime: h.integer(TAG.BUILD_TIME) ?? 0,
    installedSize: h.integer(TAG.SIZE) ?? h.integer(TAG.LONG_SIZE) ?? 0,
    provides: dependencies(h, codec, TAG.PROVIDE_NAME, TAG.PROVIDE_FLAGS, TAG.PROVIDE_VERSION),
    requires: dependencies(h, codec, TAG.REQUIRE_NAME, TAG.REQUIRE_FLAGS, TAG.REQUIRE_VERSION),
    conflicts: dependencies(h, codec, TAG.CONFLICT_NAME, TAG.CONFLICT_FLAGS, TAG.CONFLICT_VERSION),
    obsoletes: dependencies(h, codec, TAG.OBSOLETE_NAME, TAG.OBSOLETE_FLAGS, TAG.OBSOLETE_VERSION),
    files: files(h, codec),
    changelog: changelog(h, codec),
  };
}

/** The §3.4 fields as text, with the extras a later RPM registry stores. */
export function readMetadata(h: RpmHeader): RpmMetadata {
  return {
    ...readFields(h, UTF8_TEXT),
    vendor: h.string(TAG.VENDOR) ?? '',
    buildHost: h.string(TAG.BUILD_HOST) ?? '',
    fileTime: h.integer(TAG.FILE_MTIMES) ?? 0,
  };
}

// ---------------------------------------------------------------- the streaming reader

export interface RpmPackage {
  /** The lead's type: 0 binary, 1 source. */
  readonly leadType: number;
  readonly signature: RpmHeader;
  readonly header: RpmHeader;
  readonly metadata: RpmMetadata;
  /** From the main header's first byte to the end of the file: what signature tag 1000 counts. */
  readonly signedBytes: number;
  /** Signature tag 1007, the uncompressed payload size, when present. */
  readonly payloadSize: number | undefined;
}

export interface ReadRpmOptions {
  /** Largest header data store accepted (alt.md §3.2); 64 MiB by default. */
  readonly maxHeaderStoreBytes?: number;
  /** Accept source packages (a lead of type 1, or no SOURCERPM); refused by default (D12). */
  readonly allowSource?: boolean;
}

/**
 * Reads an .rpm in one streaming pass (alt.md §3): lead, signature header, main header, then
 * the payload, which is only counted and hashed, never decompressed. Runs the §3.3 checks in
 * their order. Consumes `body` to its end even when the package is bad (the caller stores the
 * same bytes) and never destroys it. Bad packages reject with a 400; an error of `body`
 * itself is passed on as is.
 */
export async function readRpm(body: Readable, options: ReadRpmOptions = {}): Promise<RpmPackage> {
  const reader = new RpmReader(options.maxHeaderStoreBytes ?? DEFAULT_MAX_STORE_BYTES);
  return feedBody(
    body,
    { write: (chunk) => reader.write(chunk), end: () => reader.end(options.allowSource ?? false) },
    asBadRequest,
  );
}

// Anything but a 400 is thrown at once: no drain, no remapping.
function asBadRequest(err: unknown): HttpError {
  if (isHttpError(err) && err.status === 400) return err;
  throw err;
}

type Phase = 'lead' | 'signatureIntro' | 'signature' | 'headerIntro' | 'header' | 'payload';

class RpmReader {
  readonly #maxStoreBytes: number;
  #phase: Phase = 'lead';
  #need = LEAD_BYTES;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #leadType = 0;
  #signatureBytes = 0;
  #signature: RpmHeader | undefined;
  #header: RpmHeader | undefined;
  #headerIntro: Buffer | undefined;
  readonly #md5: Hash = createHash('md5');
  #signedBytes = 0;

  constructor(maxStoreBytes: number) {
    this.#maxStoreBytes = maxStoreBytes;
  }

  write(chunk: Buffer): void {
    if (this.#inPayload()) {
      this.#signed(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (!this.#inPayload() && this.#buffered >= this.#need) this.#step(this.#take(this.#need));
    if (this.#inPayload() && this.#buffered > 0) this.#signed(this.#take(this.#buffered));
  }

  #inPayload(): boolean {
    return this.#phase === 'payload';
  }

  #signed(bytes: Buffer): void {
    this.#md5.update(bytes);
    this.#signedBytes += bytes.length;
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const taken = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length ? [rest] : [];
    this.#buffered = rest.length;
    return taken;
  }

  #step(bytes: Buffer): void {
    switch (this.#phase) {
      case 'lead':
        if (!bytes.subarray(0, 4).equals(LEAD_MAGIC)) throw badRequest(NOT_RPM);
        this.#leadType = bytes.readUInt16BE(6);
        this.#phase = 'signatureIntro';
        this.#need = HEADER_INTRO_BYTES;
        return;
      case 'signatureIntro': {
        const intro = parseHeaderIntro(bytes, this.#maxStoreBytes, NOT_RPM);
        this.#headerIntro = Buffer.from(bytes);
        this.#signatureBytes = intro.totalBytes;
        this.#phase = 'signature';
        // The rest of the header, then the padding to a multiple of 8 (alt.md §3.1).
        this.#need = intro.totalBytes - HEADER_INTRO_BYTES + ((8 - (intro.storeBytes % 8)) % 8);
        return;
      }
      case 'signature': {
        const rest = bytes.subarray(0, this.#signatureBytes - HEADER_INTRO_BYTES);
        this.#signature = RpmHeader.parse(Buffer.concat([this.#headerIntro!, rest]), this.#maxStoreBytes);
        this.#phase = 'headerIntro';
        this.#need = HEADER_INTRO_BYTES;
        return;
      }
      case 'headerIntro': {
        const intro = parseHeaderIntro(bytes, this.#maxStoreBytes, NOT_RPM);
        this.#headerIntro = Buffer.from(bytes);
        this.#signed(bytes);
        this.#phase = 'header';
        this.#need = intro.totalBytes - HEADER_INTRO_BYTES;
        return;
      }
      case 'header':
        this.#signed(bytes);
        this.#header = RpmHeader.parse(Buffer.concat([this.#headerIntro!, bytes]), this.#maxStoreBytes);
        this.#phase = 'payload';
        this.#need = 0;
        return;
      case 'payload':
        return;
    }
  }

  end(allowSource: boolean): RpmPackage {
    const signature = this.#signature;
    const header = this.#header;
    // 1. Structure: a file that ends before its main header is not a package.
    if (this.#phase !== 'payload' || !signature || !header) throw badRequest(NOT_RPM);
    // 2. Header digest: SHA-256 when present, else SHA-1.
    const sha256 = signature.string(SIGNATURE_TAG.SHA256);
    const sha1 = signature.string(SIGNATURE_TAG.SHA1);
    const digest = sha256 !== undefined ? ['sha256', sha256] : sha1 !== undefined ? ['sha1', sha1] : undefined;
    if (digest && createHash(digest[0]!).update(header.bytes).digest('hex') !== digest[1]!.toLowerCase()) {
      throw badRequest('RPM header digest mismatch');
    }
    // 3. Whole file: sizes and MD5 of the main header plus payload.
    for (const tag of [SIGNATURE_TAG.SIZE, SIGNATURE_TAG.LONG_SIZE]) {
      const expected = signature.integer(tag);
      if (expected !== undefined && expected !== this.#signedBytes) throw badRequest('RPM size mismatch');
    }
    const md5 = signature.binary(SIGNATURE_TAG.MD5);
    if (md5 !== undefined && !md5.equals(this.#md5.digest())) throw badRequest('RPM payload digest mismatch');
    // 4. Identity, 5. binary only.
    checkIdentity(header);
    if (!allowSource && (this.#leadType === LEAD_TYPE_SOURCE || !header.has(TAG.SOURCE_RPM))) {
      throw badRequest('source packages are not supported');
    }
    return {
      leadType: this.#leadType,
      signature,
      header,
      metadata: readMetadata(header),
      signedBytes: this.#signedBytes,
      payloadSize: signature.integer(SIGNATURE_TAG.PAYLOAD_SIZE),
    };
  }
}

// No `/`, whitespace or control characters (alt.md §3.3.4); valid UTF-8, since these make
// the stored file name and the URL apt asks for.
const IDENTITY = /^[^/\s\p{Cc}\uFFFD]+$/u;

function checkIdentity(h: RpmHeader): void {
  for (const [label, tag] of [
    ['NAME', TAG.NAME],
    ['VERSION', TAG.VERSION],
    ['RELEASE', TAG.RELEASE],
    ['ARCH', TAG.ARCH],
  ] as const) {
    const raw = h.rawString(tag);
    if (raw === undefined || raw.length === 0) throw badRequest(`RPM lacks ${label}`);
    const text = raw.toString('utf8');
    if (!IDENTITY.test(text) || !Buffer.from(text, 'utf8').equals(raw)) throw badRequest(`invalid RPM ${label}`);
    if (label === 'ARCH' && text.includes('.')) throw badRequest(`invalid RPM ${label}`);
  }
}
