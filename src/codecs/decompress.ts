import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import { createGunzip } from 'node:zlib';
import lzma from 'lzma-native';
import type { Compression } from './sniff.js';
import { ZstdDecompressor } from './zstd.js';

// xz -9 needs 65 MiB; a crafted header must not make liblzma allocate more than this.
const XZ_MEMLIMIT_BYTES = 2 ** 28;

/**
 * A transform from `kind`'s bytes to the plain tar inside. Corrupt or truncated input fails the
 * stream with an error: the caller maps it to a 400.
 */
export function decompressor(kind: Compression): Duplex {
  switch (kind) {
    case 'zst':
      return new ZstdDecompressor();
    case 'xz':
      return lzma.createDecompressor({ memlimit: XZ_MEMLIMIT_BYTES });
    case 'gz':
      // Reads concatenated members as one stream, as gzip(1) and libarchive do.
      return createGunzip();
    case 'tar':
      return new PassThrough();
  }
}
