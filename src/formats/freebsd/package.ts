import type { Readable } from 'node:stream';
import type { Header } from 'tar-stream';
import type { Compression } from '../../codecs/sniff.js';
import { drainTarEntry, readTarEntry, type TarEntry } from '../../codecs/tar-entry.js';
import { walkCompressedTar, type TarWalkStep } from '../../codecs/tar-walk.js';
import { badRequest } from '../../errors.js';
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
  let compact: string | undefined;
  let full: string | undefined;

  // freebsd.md §3.2: pkg looks at members only while their names start with `+`; `./+MANIFEST`
  // ends the walk, and so does `+COMPACT_MANIFEST`.
  const onEntry = async (header: Header, entry: TarEntry): Promise<TarWalkStep> => {
    const name = header.name;
    if (!name.startsWith('+')) return 'stop';
    if (name === '+COMPACT_MANIFEST') {
      compact = await readText(entry, header.size ?? 0, name);
      return 'stop';
    }
    if (name === '+MANIFEST') {
      if (full !== undefined) throw badRequest('invalid package: duplicate +MANIFEST');
      full = await readText(entry, header.size ?? 0, name);
      return 'continue';
    }
    await drainTarEntry(entry);
    return 'continue';
  };

  return walkCompressedTar(body, {
    accept: (sniffed, head) => {
      // freebsd.md §2.3 check 4 comes before the package checks; the head is the whole body here.
      if (head.length === 0) throw badRequest('empty body');
      if (sniffed !== undefined) return sniffed;
      // freebsd.md §3.1: bzip2 is a pkg format we do not read.
      if (head.subarray(0, 3).equals(BZIP2_MAGIC)) throw badRequest('invalid package: unsupported compression bzip2');
      throw badRequest('invalid package: unknown compression');
    },
    maxUnpackedBytes: options.maxWalkBytes ?? DEFAULT_MAX_WALK_BYTES,
    tooLarge: () => badRequest('invalid package: leading + members too large'),
    onEntry,
    finish: (compression) => {
      const [member, text] =
        compact !== undefined
          ? (['+COMPACT_MANIFEST', compact] as const)
          : full !== undefined
            ? (['+MANIFEST', full] as const)
            : [];
      if (member === undefined) throw badRequest('invalid package: no manifest');
      return { manifest: parseManifest(text), compression, member };
    },
    corrupt: CORRUPT,
  });
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
