import type { Readable } from 'node:stream';
import type { Header } from 'tar-stream';
import type { Compression } from '../../codecs/sniff.js';
import { drainTarEntry, readTarEntry } from '../../codecs/tar-entry.js';
import type { TarEntry } from '../../codecs/tar-entry.js';
import { walkCompressedTar } from '../../codecs/tar-walk.js';
import type { TarWalkStep } from '../../codecs/tar-walk.js';
import { badRequest } from '../../errors.js';
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
  let info: Pkginfo | undefined;
  let sawPkginfo = false;
  let sawMtree = false;
  const files = new Set<string>();

  const onEntry = async (header: Header, entry: TarEntry): Promise<TarWalkStep> => {
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
      if (sawPkginfo) throw badRequest('duplicate .PKGINFO file');
      sawPkginfo = true;
      info = validatePkginfo(parsePkginfo(await readText(entry, header.size)), surface);
      return 'continue';
    }
    if (name === '.MTREE') sawMtree = true;
    // repo-add lists with `--exclude='^.*'`: every name starting with a dot stays out, nested
    // dotfiles (`usr/.hidden`) do not (F6).
    else if (!name.startsWith('.')) {
      files.add(header.type === 'directory' && !name.endsWith('/') ? `${name}/` : name);
    }
    await drainTarEntry(entry);
    return 'continue';
  };

  return walkCompressedTar(body, {
    accept: (sniffed) => {
      // pacman.md §3.1: Forgejo takes compressed packages only.
      if (sniffed === undefined || (sniffed === 'tar' && surface === 'arch')) {
        throw badRequest('not supported compression');
      }
      return sniffed;
    },
    maxUnpackedBytes: options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
    tooLarge: () => badRequest('package is too large when unpacked'),
    onEntry,
    finish: (compression) => {
      if (!info) throw badRequest('.PKGINFO file not found');
      if (!sawMtree && surface === 'arch') throw badRequest('.MTREE file not found');
      return {
        info,
        files: [...files].sort(compareBytes),
        compression,
        fileName: packageFileName(info, compression),
        dir: packageDir(info),
      };
    },
    corrupt: CORRUPT,
  });
}

/** `.PKGINFO` as UTF-8 text, refusing more than MAX_PKGINFO_BYTES. */
async function readText(entry: TarEntry, declaredBytes: number): Promise<string> {
  if (declaredBytes > MAX_PKGINFO_BYTES) throw badRequest('.PKGINFO file is too large');
  const bytes = await readTarEntry(entry, () => badRequest(CORRUPT));
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badRequest('.PKGINFO is not valid UTF-8');
  }
}
