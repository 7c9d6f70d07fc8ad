import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';

// `release.classic` and `release` (alt.md §7): exact texts, every line ending in LF.

/** The three files `release` describes, in its order. */
export const LISTED_FILES = ['base/pkglist.classic', 'base/pkglist.classic.xz', 'base/release.classic'] as const;

/** Size and sums of the bytes served under one name. */
export interface FileSums {
  readonly size: number;
  /** Lower-case hex. */
  readonly md5: string;
  /** BLAKE2b-512, lower-case hex. */
  readonly blake2b: string;
}

export interface ReleaseInput {
  readonly appName: string;
  readonly arch: string;
  /** The publish time T, unix seconds (alt.md §8.2). */
  readonly timeS: number;
}

/** `Sat, 22 Nov 2025 15:39:00 UTC`: two-digit day, literal UTC. */
export function releaseDate(timeS: number): string {
  return new Date(timeS * 1000).toUTCString().replace(/GMT$/, 'UTC');
}

export function formatReleaseClassic(r: ReleaseInput): string {
  return [
    `Archive: ${r.appName}`,
    'Component: classic',
    `Version: ${r.timeS}`,
    `Origin: ${r.appName}`,
    `Label: ${r.appName}`,
    `Architecture: ${r.arch}`,
    'NotAutomatic: false',
    '',
  ].join('\n');
}

/** `files` in LISTED_FILES order: pkglist.classic, its .xz, release.classic. */
export function formatRelease(r: ReleaseInput, files: readonly [FileSums, FileSums, FileSums]): string {
  const lines = (sum: (f: FileSums) => string) => files.map((f, i) => ` ${sum(f)} ${f.size} ${LISTED_FILES[i]}`);
  return [
    `Origin: ${r.appName}`,
    `Label: ${r.appName}`,
    'Suite: Unknown',
    `Codename: ${r.timeS}`,
    `Date: ${releaseDate(r.timeS)}`,
    `Architectures: ${r.arch}`,
    'MD5Sum:',
    ...lines((f) => f.md5),
    'BLAKE2b:',
    ...lines((f) => f.blake2b),
    '',
    '',
    '',
  ].join('\n');
}

/** The sums `release` lists, of bytes in memory. */
export function sumsOf(bytes: Uint8Array): FileSums {
  return {
    size: bytes.length,
    md5: createHash('md5').update(bytes).digest('hex'),
    blake2b: createHash('blake2b512').update(bytes).digest('hex'),
  };
}

/** The sums `release` lists, of a stream read to its end (a copy of what is being stored). */
export async function readSums(stream: Readable): Promise<FileSums> {
  const md5 = createHash('md5');
  const blake2b = createHash('blake2b512');
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    md5.update(b);
    blake2b.update(b);
    size += b.length;
  }
  return { size, md5: md5.digest('hex'), blake2b: blake2b.digest('hex') };
}
