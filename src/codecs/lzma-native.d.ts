// The part of lzma-native (no bundled types) that codecs/ uses.
declare module 'lzma-native' {
  import type { Duplex } from 'node:stream';

  export interface DecompressorOptions {
    /** liblzma refuses streams that need more memory than this (LZMA_MEMLIMIT_ERROR). */
    readonly memlimit?: number;
  }

  export interface CompressorOptions {
    readonly preset?: number;
    readonly check?: number;
    readonly threads?: number;
  }

  export const CHECK_CRC64: number;
  export function createDecompressor(options?: DecompressorOptions): Duplex;
  export function createCompressor(options?: CompressorOptions): Duplex;

  const lzma: {
    CHECK_CRC64: number;
    createDecompressor(options?: DecompressorOptions): Duplex;
    createCompressor(options?: CompressorOptions): Duplex;
  };
  export default lzma;
}
