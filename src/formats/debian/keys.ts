/** aptly's package identity (debian.md §3.6), so keys match an aptly peer exactly. */

export interface KeyFacts {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** The upload basename: the same bytes under another name are another package. */
  readonly fileName: string;
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;

/** 64-bit FNV-1a over the basename, the size (int64 big-endian) and three hex digests. */
export function filesHash(f: Pick<KeyFacts, 'fileName' | 'size' | 'md5' | 'sha1' | 'sha256'>): string {
  const size = Buffer.alloc(8);
  size.writeBigInt64BE(BigInt(f.size));
  let h = FNV_OFFSET;
  for (const part of [Buffer.from(f.fileName, 'utf8'), size, Buffer.from(f.md5), Buffer.from(f.sha1), Buffer.from(f.sha256)]) {
    for (const byte of part) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK;
  }
  // Go's %08x: at least eight digits, never cut.
  return h.toString(16).padStart(8, '0');
}

/** `P{A} {name} {version}`: unique within one list (a repo, a snapshot). */
export const shortKey = (p: Pick<KeyFacts, 'name' | 'version' | 'architecture'>): string =>
  `P${p.architecture} ${p.name} ${p.version}`;

/** `P{A} {name} {version} {files_hash}`: unique per owner. */
export const packageKey = (p: KeyFacts): string => `${shortKey(p)} ${filesHash(p)}`;

/** `{name}_{version}_{A}`, as aptly names a package in messages. */
export const displayName = (p: Pick<KeyFacts, 'name' | 'version' | 'architecture'>): string =>
  `${p.name}_${p.version}_${p.architecture}`;

/** Splits a key back into its parts, or undefined when it is not one. */
export function parsePackageKey(key: string): { architecture: string; name: string; version: string; hash: string } | undefined {
  const m = /^P(\S+) (\S+) (\S+) ([0-9a-f]{8,16})$/.exec(key);
  return m ? { architecture: m[1]!, name: m[2]!, version: m[3]!, hash: m[4]! } : undefined;
}
