// The part of lzma-native (no bundled types) that codecs/decompress.ts uses.
declare module 'lzma-native' {
  import type { Duplex } from 'node:stream';

  export interface DecompressorOptions {
    /** liblzma refuses streams that need more memory than this (LZMA_MEMLIMIT_ERROR). */
    readonly memlimit?: number;
  }

  export function createDecompressor(options?: DecompressorOptions): Duplex;
}
